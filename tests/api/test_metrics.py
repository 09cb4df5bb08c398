"""GET /metrics: the Prometheus text format, one registry per app, and figures that move as
requests come: a cache hit adds a hit, a 422 a rejection, a run its model's run time."""

import re
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest
from fastapi import Request
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from app.api.metrics import Metrics
from app.api.middleware import Message, Receive, Scope, Send
from app.api.outcomes import RequestOutcomes, mark_abandoned
from app.main import create_app
from app.settings import Settings
from tests.conftest import serving

MODEL = "tiny-bert"

DEPLOY_DOCS = Path(__file__).resolve().parents[2] / "docs" / "deploy.md"


def documented_metrics() -> set[str]:
    """The metric names in the docs' table (Deploy, Metrics)."""
    return set(
        re.findall(r"^\| `((?:attn|http)_[a-z_]+)` \|", DEPLOY_DOCS.read_text(), re.MULTILINE)
    )


def scrape(client: TestClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture(scope="module")
def tiny_settings(settings: Settings) -> Settings:
    # Only the tiny models: starting an app stays quick.
    return settings.model_copy(update={"enabled_models": []})


@pytest.fixture
def metered(tiny_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(tiny_settings)) as client:
        yield client


def test_metrics_expose_exactly_the_documented_names_after_a_few_requests(
    metered: TestClient,
) -> None:
    metered.post("/api/v1/attention", json={"model": MODEL, "text": "hello there"})
    metered.post("/api/v1/attention", json={"model": MODEL, "text": "hello", "layers": [99]})
    response = metered.get("/metrics")
    exposed = {
        family.name + ("_total" if family.type == "counter" else "")
        for family in text_string_to_metric_families(response.text)
        if not family.name.endswith("_created")  # the client library's timestamps
    }
    assert exposed == documented_metrics()
    assert len(exposed) == 21


def test_a_miss_then_hits_move_the_cache_run_and_request_figures(metered: TestClient) -> None:
    before = scrape(metered)
    body = {"model": MODEL, "text": "the cat sat on the mat"}
    assert metered.post("/api/v1/attention", json=body).headers["x-cache"] == "miss"
    # Another encoding of the same run: a hit of the run cache, a new response.
    uint8 = {**body, "encoding": "uint8"}
    assert metered.post("/api/v1/attention", json=uint8).headers["x-cache"] == "hit"
    # The same request again: its stored response, the run cache not asked.
    assert metered.post("/api/v1/attention", json=uint8).headers["x-cache"] == "hit"
    after = scrape(metered)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("attn_run_cache_misses_total") == 1
    assert grew("attn_run_cache_hits_total") == 1
    assert grew("attn_response_cache_misses_total") == 2
    assert grew("attn_response_cache_hits_total") == 1
    assert value(after, "attn_response_cache_entries") == 2
    assert value(after, "attn_response_cache_bytes") > 0
    assert value(after, "attn_run_cache_entries") == 1
    assert value(after, "attn_run_cache_bytes") > 0
    assert grew("attn_model_run_seconds_count", model=MODEL) == 1  # the hit ran nothing
    assert grew("attn_inference_queue_wait_seconds_count") >= 1
    assert value(after, "attn_inference_queue_waiting") == 0
    assert value(after, "attn_inference_running") == 0
    route = {"handler": "/api/v1/attention", "method": "POST"}
    assert grew("http_requests_total", **route, status="200") == 3
    assert grew("http_request_duration_seconds_count", **route) == 3


def test_refusals_are_counted_by_reason(metered: TestClient) -> None:
    before = scrape(metered)
    bad_layer = {"model": MODEL, "text": "hello", "layers": [99]}
    assert metered.post("/api/v1/attention", json=bad_layer).status_code == 422
    assert metered.post("/api/v1/attention", json={"model": MODEL}).status_code == 422
    huge = {"model": MODEL, "text": "a" * 300_000}
    assert metered.post("/api/v1/attention", json=huge).status_code == 413
    after = scrape(metered)

    def grew(reason: str) -> float:
        name = "attn_requests_rejected_total"
        return value(after, name, reason=reason) - value(before, name, reason=reason)

    assert (grew("invalid"), grew("body_too_large"), grew("rate_limited"), grew("busy")) == (
        2,
        1,
        0,
        0,
    )


def test_labels_are_route_templates_and_cannot_be_made_up(metered: TestClient) -> None:
    metered.get(f"/api/v1/models/{MODEL}/heads?variant=nope")
    metered.get("/no/such/page/12345")
    metered.request("BREW", "/")
    metered.get("/metrics")
    samples = scrape(metered)
    handlers = {dict(labels).get("handler") for name, labels in samples if name.startswith("http_")}
    methods = {dict(labels).get("method") for name, labels in samples if name.startswith("http_")}
    assert "/api/v1/models/{model_id}/heads" in handlers
    assert "none" in handlers  # the unknown path, grouped
    assert not any(h and ("12345" in h or "metrics" in h) for h in handlers)
    assert "other" in methods and "BREW" not in methods


def test_each_app_has_its_own_registry(tiny_settings: Settings) -> None:
    with TestClient(create_app(tiny_settings)) as first:
        first.get("/healthz")
        first.get("/healthz")
        with TestClient(create_app(tiny_settings)) as second:
            second.get("/healthz")
            health = {"handler": "/healthz", "method": "GET", "status": "200"}
            assert value(scrape(first), "http_requests_total", **health) == 2
            assert value(scrape(second), "http_requests_total", **health) == 1


def test_metrics_can_be_turned_off(tiny_settings: Settings) -> None:
    with TestClient(create_app(tiny_settings.model_copy(update={"metrics": False}))) as client:
        assert client.get("/metrics").status_code == 404


# RequestOutcomes on its own, with a hand-made ASGI app: a 503 needs a queue that does not move.


def _outcome(status: int, abandon: bool = False) -> Metrics:
    metrics = Metrics()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if abandon:
            mark_abandoned(scope)
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    async def receive() -> Message:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: Message) -> None:
        pass

    scope = {"type": "http", "method": "POST", "path": "/api/v1/attention", "headers": []}
    anyio.run(RequestOutcomes(app, metrics.request_done), scope, receive, send)
    return metrics


def _count(metrics: Metrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


def test_a_503_counts_as_busy_and_a_200_as_nothing() -> None:
    assert _count(_outcome(503), "attn_requests_rejected_total", reason="busy") == 1
    fine = _outcome(200)
    reasons = ("body_too_large", "invalid", "rate_limited", "busy")
    assert sum(_count(fine, "attn_requests_rejected_total", reason=r) for r in reasons) == 0
    assert _count(fine, "attn_requests_abandoned_total") == 0


def test_a_request_marked_abandoned_is_counted() -> None:
    assert _count(_outcome(200, abandon=True), "attn_requests_abandoned_total") == 1


def test_a_route_can_mark_its_request_abandoned(tiny_settings: Settings) -> None:
    # What the generation route does when its client leaves: the mark reaches the metrics
    # through the router.
    app = create_app(tiny_settings)

    async def leaves(request: Request) -> dict[str, bool]:
        mark_abandoned(request.scope)
        return {"done": True}

    app.add_api_route("/api/v1/leaves", leaves, methods=["GET"])
    with TestClient(app) as client:
        client.get("/api/v1/leaves")
        assert value(scrape(client), "attn_requests_abandoned_total") == 1


def test_a_client_that_leaves_a_queued_request_counts_as_abandoned_under_uvicorn(
    tiny_settings: Settings,
) -> None:
    app = create_app(tiny_settings)

    async def slow(request: Request) -> dict[str, bool]:
        await request.json()  # as every computing route reads its body
        # Holds the inference gate for a second, as a long run would.
        await request.app.state.gate.run(lambda: time.sleep(1.0))
        return {"done": True}

    app.add_api_route("/api/v1/slow", slow, methods=["POST"])
    with serving(app) as url:
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(f"{url}/api/v1/slow", json={}, timeout=0.3)
        assert httpx.post(f"{url}/api/v1/slow", json={}, timeout=10).status_code == 200
        text = httpx.get(f"{url}/metrics").text
    assert "attn_requests_abandoned_total 1.0" in text
