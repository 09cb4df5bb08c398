"""Request and response bodies of the REST API, as documented in /openapi.json: one module per
resource."""
