"""The interactive API docs (Swagger UI at /docs), served from this server.

FastAPI's own docs pages load their scripts from a CDN and start Swagger UI with an inline
script: offline they stay blank, and the pages' Content-Security-Policy (scripts from this
server only) would block the inline script anyway. The script and style come from the
`fastapi-offline` package, which bundles them; the start-up code is a file of ours.

/redoc sends readers to /docs: ReDoc's standalone bundle always shows a "by Redocly" logo
that it fetches from Redocly's CDN, a request that must not leave the server.
"""

import importlib.util
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

router = APIRouter(include_in_schema=False)

DOCS_ASSETS_URL = "/vendor/docs"


def docs_assets() -> StaticFiles:
    """The bundled Swagger UI and ReDoc files, located without importing the package."""
    spec = importlib.util.find_spec("fastapi_offline")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("fastapi-offline is not installed; the API docs need its files")
    folder = Path(next(iter(spec.submodule_search_locations))) / "static"
    return StaticFiles(directory=folder)


def _page(title: str, head: str, body: str) -> HTMLResponse:
    return HTMLResponse(
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{title}</title>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<link rel="icon" href="{DOCS_ASSETS_URL}/favicon.png">{head}</head>'
        f"<body>{body}</body></html>"
    )


@router.get("/docs")
def swagger_ui() -> HTMLResponse:
    return _page(
        "Attention Visualizer API - Swagger UI",
        f'<link rel="stylesheet" href="{DOCS_ASSETS_URL}/swagger-ui.css">',
        '<div id="swagger-ui"></div>'
        f'<script src="{DOCS_ASSETS_URL}/swagger-ui-bundle.js"></script>'
        '<script src="/static/js/swagger-init.js"></script>',
    )


@router.get("/redoc")
def redoc() -> RedirectResponse:
    return RedirectResponse("/docs")  # relative: the Host header is not echoed back
