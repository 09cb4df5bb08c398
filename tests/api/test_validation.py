"""Requests are checked before any model runs, with messages that match what was sent."""

import pytest
from fastapi.testclient import TestClient


def _post(client: TestClient, path: str = "/api/v1/attention", **body: object) -> tuple[int, str]:
    response = client.post(path, json=body)
    return response.status_code, response.json().get("detail", "")


@pytest.mark.parametrize(
    ("text", "what"),
    [("\u0301\u0302", "combining marks"), ("\ue000\ue001", "private-use"), ("\u200b", "format")],
)
def test_text_with_nothing_to_read_is_refused(client: TestClient, text: str, what: str) -> None:
    status, detail = _post(client, model="minilm", text=text)
    assert status == 422
    assert "nothing to read" in detail and what in detail


def test_a_layer_that_does_not_exist_costs_no_forward_pass(client: TestClient) -> None:
    text = "a sentence first asked for with a layer that does not exist"
    status, detail = _post(client, model="minilm", text=text, layers=[9])
    assert (status, detail) == (422, "layer 9 does not exist; this model has layers 0-5")
    assert _post(client, model="minilm", text=text, heads=[40])[1].startswith("head 40")
    fine = client.post("/api/v1/attention", json={"model": "minilm", "text": text})
    assert fine.headers["x-cache"] == "miss"  # the refused requests ran nothing


def test_an_empty_variant_is_refused_before_and_after_the_text_is_cached(
    client: TestClient,
) -> None:
    text = "variant checks do not depend on the cache"
    for _ in range(2):
        status, detail = _post(client, model="minilm", text=text, variant="")
        assert status == 422 and "variant" in detail
        assert client.post("/api/v1/attention", json={"model": "minilm", "text": text}).is_success


def test_max_new_tokens_on_an_encoder_is_refused(client: TestClient) -> None:
    status, detail = _post(client, model="minilm", text="hello", max_new_tokens=3)
    assert status == 422 and "leave 'max_new_tokens' out" in detail


def test_the_explain_query_has_a_length_limit(client: TestClient) -> None:
    body = {"model": "minilm", "text": "hello", "layer": 0, "head": 0, "query": "x" * 101}
    status, detail = _post(client, "/api/v1/explain", **body)
    assert status == 422 and "query" in detail
    assert "x" * 101 not in detail


@pytest.mark.parametrize("path", ["/healthz", "/api/v1/models", "/"])
def test_head_answers_like_get_without_a_body(client: TestClient, path: str) -> None:
    get, head = client.get(path), client.head(path)
    assert head.status_code == get.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]


def test_a_body_framed_twice_is_refused(live_server: str) -> None:
    import socket

    host, port = live_server.removeprefix("http://").split(":")
    request = (
        b"POST /api/v1/attention HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(request)
        answer = connection.recv(4096)
    assert answer.startswith(b"HTTP/1.1 400")


def test_the_host_header_is_not_echoed_into_the_page(client: TestClient) -> None:
    page = client.get("/", headers={"host": "evil.example"})
    assert page.status_code == 200
    assert "evil.example" not in page.text
    assert (
        client.get("/redoc", headers={"host": "evil.example"}, follow_redirects=False).headers[
            "location"
        ]
        == "/docs"
    )


def test_only_allowed_hosts_are_answered(tiny_models: dict) -> None:
    from app.main import create_app
    from app.settings import Settings

    app = create_app(Settings(allowed_hosts=["attention.example.org"], enabled_models=[]))
    with TestClient(app, base_url="http://attention.example.org") as allowed:
        assert allowed.get("/healthz").status_code == 200
        assert allowed.get("/healthz", headers={"host": "evil.example"}).status_code == 400


def _post_routes(client: TestClient) -> list[str]:
    paths = client.get("/openapi.json").json()["paths"]
    return sorted(path for path, methods in paths.items() if "post" in methods)


def test_every_route_that_takes_a_body_refuses_a_repeated_key(client: TestClient) -> None:
    posts = _post_routes(client)
    assert "/api/v1/attention" in posts and len(posts) == 6
    for path in posts:
        for body, key in [
            (b'{"model": "nope", "model": "minilm", "text": "hi"}', '"model"'),
            # Nested, in a field the route does not take: refused as it is read.
            (b'{"text": "hi", "extra": {"a": [{"b": 1, "b": 2}]}}', '"b"'),
        ]:
            response = client.post(path, content=body, headers={"Content-Type": "application/json"})
            assert response.status_code == 422, (path, response.text)
            detail = response.json()["detail"]
            assert f"the key {key} appears twice in one object; send each key once" in detail


def test_a_body_without_repeats_is_read_as_before(client: TestClient) -> None:
    body = b'{"model": "minilm", "text": "the cat sat", "layers": [0], "heads": [1]}'
    response = client.post(
        "/api/v1/attention", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["blocks"][0]["heads"] == [1]
