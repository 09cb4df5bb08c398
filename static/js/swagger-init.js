// Starts Swagger UI on /docs. A file, not an inline script: the pages' Content-Security-Policy
// runs scripts from this server only.
window.ui = window.SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  presets: [window.SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
});
