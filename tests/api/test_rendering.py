"""Responses: JSON bounded in size, and the bytes of a response served again as stored."""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings

TEXT = "The animal didn't cross the street because it was too tired"


@pytest.fixture(scope="module")
def small(settings: Settings) -> Iterator[TestClient]:
    bounded = settings.model_copy(update={"max_json_weights": 5_000})
    with TestClient(create_app(bounded)) as client:
        yield client


def test_json_past_its_limit_asks_for_a_compact_encoding(small: TestClient) -> None:
    response = small.post("/api/v1/attention", json={"model": "minilm", "text": TEXT})
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert "as JSON" in detail and "encoding 'uint8'" in detail and "5,000" in detail
    # the same run in uint8, or one head in JSON, is served
    compact = {"model": "minilm", "text": TEXT, "encoding": "uint8"}
    assert small.post("/api/v1/attention", json=compact).status_code == 200
    one = {"model": "minilm", "text": TEXT, "layers": [0], "heads": [0]}
    assert small.post("/api/v1/attention", json=one).status_code == 200


def test_the_same_request_again_gets_the_stored_bytes(client: TestClient) -> None:
    body = {"model": "minilm", "text": TEXT + " again", "encoding": "float16", "layers": [1]}
    first = client.post("/api/v1/attention", json=body)
    second = client.post("/api/v1/attention", json=body)
    assert (first.headers["X-Cache"], second.headers["X-Cache"]) == ("miss", "hit")
    assert first.content == second.content
    other = client.post("/api/v1/attention", json={**body, "layers": [2]})
    assert other.headers["X-Cache"] == "hit" and other.content != first.content
    # a stored response still answers only a request that passes every check
    bad = client.post("/api/v1/attention", json={**body, "text": TEXT + "\x00"})
    assert bad.status_code == 422


def test_small_responses_need_no_render_slot(settings: Settings) -> None:
    """With the only render slot taken by a long render, a 30-token run (64,800 weights) is
    still encoded and sent; a 60-token one (259,200 weights) waits for the slot."""
    quick = settings.model_copy(update={"render_concurrency": 1, "queue_timeout_s": 0.5})
    with TestClient(create_app(quick)) as client:
        gate = client.app.state.renderer.gate  # type: ignore[attr-defined]
        client.portal.call(lambda: gate.limiter.acquire_on_behalf_of_nowait("a long render"))
        small_text = " ".join(["word"] * 28)  # 30 tokens with [CLS] and [SEP]
        large_text = " ".join(["word"] * 58)
        body = {"model": "minilm", "encoding": "uint8"}
        small = client.post("/api/v1/attention", json={**body, "text": small_text})
        assert small.status_code == 200 and small.json()["blocks"][0]["shape"] == [12, 30, 30]
        large = client.post("/api/v1/attention", json={**body, "text": large_text})
        assert large.status_code == 503 and "rendering slot" in large.json()["detail"]
        client.portal.call(lambda: gate.limiter.release_on_behalf_of("a long render"))
        again = client.post("/api/v1/attention", json={**body, "text": large_text})
        assert again.status_code == 200 and again.headers["X-Cache"] == "hit"
