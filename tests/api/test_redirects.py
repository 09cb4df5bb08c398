"""No redirect reflects the Host header: every redirect the app can make names a path, never
a host. The redirects are found, not listed: each route (by each of its methods) and each mount
is asked for with and without a trailing slash (Starlette's redirect_slashes), with a hostile
Host. Through nginx: tests/cluster/."""

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.routing import Mount

from app.api.middleware import _relative

EVIL = "evil.example"


def _endpoints(router: Any, prefix: str = "") -> set[tuple[str, str]]:
    """(method, path) of every route, a parameter filled in, and each mount's (GET), walking
    into included routers."""
    found = set()
    for route in router.routes:
        context = getattr(route, "include_context", None)
        if context is not None:
            found |= _endpoints(route.original_router, prefix + context.prefix)
            continue
        path = prefix + re.sub(r"\{[^}]+\}", "x", route.path)
        if isinstance(route, Mount):
            found |= {("GET", path), ("GET", f"{path}/x")}
        else:
            found |= {(method, path) for method in route.methods if method != "HEAD"}
    return found


def _redirects(client: TestClient) -> dict[tuple[str, str], str]:
    """(method, path asked) -> Location, for every answer that redirects."""
    asked = set()
    for method, path in _endpoints(client.app.router):  # type: ignore[attr-defined]
        stripped = path.rstrip("/") or "/"
        paths = {stripped, f"{stripped}/", f"{stripped}//", f"{stripped}/?q=1"}
        asked |= {(method, path) for path in paths}
    assert ("GET", "/docs") in asked and ("POST", "/api/v1/attention/") in asked
    found = {}
    for method, path in sorted(asked):
        answer = client.request(
            method, path, headers={"Host": EVIL}, json={}, follow_redirects=False
        )
        assert EVIL not in str(answer.headers).lower() and EVIL not in answer.text, path
        if answer.is_redirect:
            found[method, path] = answer.headers["location"]
    return found


def test_no_redirect_names_the_host_it_was_asked_for(client: TestClient) -> None:
    found = _redirects(client)
    # The two the app is known to make: Starlette's trailing slash, and /redoc.
    assert found["GET", "/docs/"] == "/docs"
    assert found["GET", "/redoc"] == "/docs"
    assert found["GET", "/docs/?q=1"] == "/docs?q=1"
    assert found["POST", "/api/v1/attention/"] == "/api/v1/attention"
    for path, location in found.items():
        assert location.startswith("/") and not location.startswith(("//", "/\\")), path


def test_a_relative_location_cannot_be_read_as_a_host() -> None:
    own = "evil.example"
    assert _relative(b"http://evil.example/docs?a=1#top", own) == b"/docs?a=1#top"
    assert _relative(b"http://EVIL.example//other.example/x", own) == b"/other.example/x"
    assert _relative(b"https://evil.example/\\other.example", own) == b"/other.example"
    assert _relative(b"http://evil.example", own) == b"/"
    # Already relative, or another host on purpose: left alone.
    assert _relative(b"/docs", own) == b"/docs"
    assert _relative(b"https://elsewhere.example/", own) == b"https://elsewhere.example/"


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8443", "[::1]:80"])
def test_the_trailing_slash_redirect_is_relative_for_any_host(
    client: TestClient, host: str
) -> None:
    answer = client.get("/docs/", headers={"Host": host}, follow_redirects=False)
    assert answer.status_code == 307
    assert answer.headers["location"] == "/docs"
