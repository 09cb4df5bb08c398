import json

import anyio
import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.api.inference import InferenceGate, ServerBusyError
from app.attention.ops.encode import decode
from tests.conftest import DEMO_SENTENCE

BODY = {"model": "minilm", "text": DEMO_SENTENCE}


def _blocks(client: TestClient, **extra: object) -> list[dict]:
    response = client.post("/api/v1/attention", json={**BODY, **extra})
    assert response.status_code == 200, response.text
    return response.json()["blocks"]


@pytest.mark.parametrize(("encoding", "tolerance"), [("uint8", 1 / 255), ("float16", 1e-3)])
def test_compact_encodings_decode_to_the_json_values(
    client: TestClient, encoding: str, tolerance: float
) -> None:
    reference = _blocks(client)
    compact = _blocks(client, encoding=encoding)
    for full, small in zip(reference, compact, strict=True):
        assert small["encoding"] == encoding and small["shape"] == full["shape"]
        values = decode(small["data"], small["shape"], encoding)  # type: ignore[arg-type]
        assert np.abs(values - np.array(full["data"])).max() <= tolerance


def test_uint8_costs_at_most_one_and_a_half_bytes_a_weight(client: TestClient) -> None:
    response = client.post("/api/v1/attention", json={**BODY, "encoding": "uint8"})
    weights = sum(np.prod(b["shape"]) for b in response.json()["blocks"])
    assert len(response.content) / weights <= 1.5


def test_max_size_pools_thumbnails_and_says_so(client: TestClient) -> None:
    blocks = _blocks(client, max_size=4, encoding="float16")
    assert blocks[0]["shape"] == [12, 4, 4]
    assert blocks[0]["pooled_from"] == [12, 15, 15]
    values = decode(blocks[0]["data"], blocks[0]["shape"], "float16")
    assert np.allclose(values.sum(-1), 1, atol=3e-3)


def test_second_identical_request_is_a_cache_hit(client: TestClient) -> None:
    body = {**BODY, "text": "A sentence seen twice is computed once"}
    first = client.post("/api/v1/attention", json=body)
    second = client.post("/api/v1/attention", json={**body, "encoding": "uint8", "layers": [2]})
    assert (first.headers["x-cache"], second.headers["x-cache"]) == ("miss", "hit")


def test_oversized_body_is_413(client: TestClient) -> None:
    response = client.post(
        "/api/v1/attention",
        content=json.dumps({**BODY, "text": "a" * 300_000}),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413
    assert "larger than 262144 bytes" in response.json()["detail"]


def test_oversized_chunked_body_is_413(client: TestClient) -> None:
    chunks = (b"x" * 1000 for _ in range(300))
    response = client.post(
        "/api/v1/attention", content=chunks, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


def test_non_json_content_type_is_415(client: TestClient) -> None:
    response = client.post(
        "/api/v1/attention", content=json.dumps(BODY), headers={"content-type": "text/plain"}
    )
    assert response.status_code == 415
    assert "Content-Type: application/json" in response.json()["detail"]


def test_deeply_nested_json_is_a_4xx_with_a_message(client: TestClient) -> None:
    response = client.post(
        "/api/v1/attention",
        content=b"[" * 20_000 + b"]" * 20_000,
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422
    assert "could not be parsed" in response.json()["detail"]


def test_pages_and_api_carry_security_headers(client: TestClient) -> None:
    for response in (client.get("/"), client.get("/api/v1/models")):
        csp = response.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp
        assert "unsafe-eval" not in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"


def test_openapi_shows_the_limits(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    text = schema["components"]["schemas"]["AttentionRequest"]["properties"]["text"]
    assert text["maxLength"] == 20000
    assert "| `max_tokens` | 512 |" in schema["info"]["description"]


def test_a_full_queue_answers_busy() -> None:
    async def scenario() -> None:
        gate = InferenceGate(concurrency=1, queue_timeout_s=0.05)
        await gate.slots.acquire()  # a long run holds the only slot
        with pytest.raises(ServerBusyError, match="busy"):
            await gate.run(lambda: None)
        gate.slots.release()
        assert await gate.run(lambda: 7) == 7

    anyio.run(scenario)
