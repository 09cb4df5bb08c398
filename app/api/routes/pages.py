"""The browser page and the one script it needs from an installed package."""

from pathlib import Path

import plotly
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse

from app.api.templates import render_page
from app.settings import PROJECT_ROOT

router = APIRouter(include_in_schema=False)

# Served from the installed plotly package so the page works with no network at all.
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


@router.get("/", response_class=HTMLResponse)
def index(request: Request) -> HTMLResponse:
    return render_page(request, "index.html")


@router.get("/favicon.ico")
def favicon() -> FileResponse:
    return FileResponse(PROJECT_ROOT / "static" / "favicon.svg", media_type="image/svg+xml")


@router.get("/vendor/plotly.min.js")
def plotly_js() -> FileResponse:
    return FileResponse(
        PLOTLY_JS,
        media_type="text/javascript",
        headers={"Cache-Control": "public, max-age=86400"},
    )
