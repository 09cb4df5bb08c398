"""The site's Jinja2 templates, and how a page of it is rendered."""

import plotly
from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from app.settings import PROJECT_ROOT

templates = Jinja2Templates(directory=PROJECT_ROOT / "templates")


def render_page(request: Request, template: str) -> HTMLResponse:
    """A page of the site: `template` extends base.html."""
    return templates.TemplateResponse(request, template, {"plotly_version": plotly.__version__})
