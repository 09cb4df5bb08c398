"""The OpenAPI schema, with this server's limits written into the request schemas."""

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from app.settings import Settings


def _limit_text_fields(schema: dict[str, Any], settings: Settings) -> None:
    properties = schema.get("properties", {})
    if "text" in properties:
        properties["text"]["maxLength"] = settings.max_chars
    target = properties.get("target")
    if target is not None:
        for option in target.get("anyOf", [target]):
            if option.get("type") == "string":
                option["maxLength"] = settings.max_target_chars
    new_tokens = properties.get("max_new_tokens")
    if new_tokens is not None:
        for option in new_tokens.get("anyOf", [new_tokens]):
            if option.get("type") == "integer":
                option["maximum"] = settings.max_new_tokens


def limits_description(settings: Settings) -> str:
    names = [
        "max_chars",
        "max_target_chars",
        "max_tokens",
        "max_new_tokens",
        "max_body_bytes",
        "rate_limit",
    ]
    rows = "\n".join(
        f"| `{name}` | {getattr(settings, name) or 'off'} | "
        f"{Settings.model_fields[name].description} |"
        for name in names
    )
    return (
        "\n\n## Limits\n\nSettings (environment variables `ATTN_<NAME>`); "
        "values on this server:\n\n"
        "| setting | value | meaning |\n|---|---|---|\n"
        + rows
        + "\n\nA text longer in tokens than "
        "a model accepts is refused with a 422 that states the limit; nothing is truncated."
    )


def install_openapi(app: FastAPI, settings: Settings) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=(app.description or "") + limits_description(settings),
                routes=app.routes,
            )
            for component in schema.get("components", {}).get("schemas", {}).values():
                _limit_text_fields(component, settings)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
