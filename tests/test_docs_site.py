"""The docs say what the app does: every route, parameter and field of the live OpenAPI schema
is named on the API page, every route the API page names exists, and every setting is in the
settings table of the deploy page."""

import re
from pathlib import Path

import pytest
from fastapi import FastAPI
from starlette.routing import Match

from app.main import create_app
from app.settings import FastPathSettings, Settings

DOCS = Path(__file__).resolve().parents[1] / "docs"
API_PAGE = DOCS / "api.md"
DEPLOY_PAGE = DOCS / "deploy.md"


@pytest.fixture(scope="module")
def app() -> FastAPI:
    """The app with no manifest model: building it, and its schema, loads none."""
    return create_app(Settings(enabled_models=[]))


def answers(app: FastAPI, method: str, path: str) -> bool:
    """Whether one of the app's routes, in the schema or not (/metrics), takes this request."""
    concrete = re.sub(r"\{[^}]+\}", "x", path)
    scope = {"type": "http", "method": method, "path": concrete, "root_path": ""}
    return any(route.matches(scope)[0] == Match.FULL for route in app.router.routes)


def _named(page: str) -> set[str]:
    """Everything written in backticks on a page, and each name in a backticked list."""
    spans = re.findall(r"`([^`\n]+)`", page)
    return set(spans) | {word for span in spans for word in re.findall(r"\w+", span)}


def test_every_route_of_the_schema_has_its_section(app: FastAPI) -> None:
    schema = app.openapi()
    page = API_PAGE.read_text()
    for path, operations in schema["paths"].items():
        for method in operations:
            route = f"{method.upper()} {path}"
            assert f"`{route}`" in page, f"docs/api.md does not name {route}"


def test_every_route_the_api_page_names_exists(app: FastAPI) -> None:
    named = re.findall(r"`(GET|POST|PUT|DELETE|PATCH) (/[^`?\s]*)", API_PAGE.read_text())
    assert named
    lacking = sorted(
        {f"{method} {path}" for method, path in named if not answers(app, method, path)}
    )
    assert not lacking, f"docs/api.md names routes the app lacks: {lacking}"


def test_every_field_and_parameter_is_named(app: FastAPI) -> None:
    schema = app.openapi()
    named = _named(API_PAGE.read_text())
    fields = {
        (model, field)
        for model, definition in schema["components"]["schemas"].items()
        for field in definition.get("properties", {})
    }
    parameters = {
        (f"{method.upper()} {path}", parameter["name"])
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        for parameter in operation.get("parameters", [])
    }
    missing = sorted((owner, name) for owner, name in fields | parameters if name not in named)
    assert not missing, f"docs/api.md does not name these fields: {missing}"


def test_every_setting_is_in_the_settings_table() -> None:
    table = set(re.findall(r"^\| `(ATTN_[A-Z0-9_]+)` \|", DEPLOY_PAGE.read_text(), re.MULTILINE))
    # The fast path is a group of its own, with the same prefix (Settings.fast_path).
    names = (set(Settings.model_fields) - {"fast_path"}) | set(FastPathSettings.model_fields)
    settings = {f"ATTN_{name.upper()}" for name in names}
    assert settings - table == set(), f"missing from docs/deploy.md: {settings - table}"
    assert table - settings == set(), f"not settings of app/settings.py: {table - settings}"
