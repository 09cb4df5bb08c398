"""GET /metrics: this process's figures in the Prometheus text format.

Each app has its own registry, so two apps in one process (the tests make many) never share
or clash over a metric. Requests and latency per route are recorded by
prometheus-fastapi-instrumentator's middleware, labelled with the route's template
(`/api/v1/models/{model_id}/heads`), never the raw path: every path no route matches is
grouped as `none` and an unusual method as `other`, so no client can add label values.
/metrics itself is left out of them.

The project's own figures: the inference gate (queue and runs are counted by the gate and read
at scrape time, waits and run times are observed as they happen), the run cache and the
response cache (read from them at scrape time, so nothing is counted twice), and requests
refused or abandoned (app/api/outcomes.py tells what became of each request).
"""

from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_fastapi_instrumentator import Instrumentator
from prometheus_fastapi_instrumentator.metrics import Info

from app.api.batching import Batcher
from app.api.inference import InferenceGate
from app.api.outcomes import RequestOutcomes
from app.api.rendering import ResponseCache
from app.attention.cache import BoundedLRU, RunCache

METRICS_PATH = "/metrics"

# Statuses counted as refused, by reason (the label values are fixed here).
REJECTED_REASONS = {413: "body_too_large", 422: "invalid", 429: "rate_limited", 503: "busy"}

# Methods a route can answer; anything else is labelled "other".
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

# Seconds. A cached request takes about a millisecond, a 512-token MiniLM run a fraction of a
# second (docs/benchmark.md); a long generation or queue takes longer (the queue gives up at
# 60 s by default).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
RUN_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
WAIT_BUCKETS = (0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class Metrics:
    """The app's registry and the figures the app records; the gate's observer."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "http_requests",
            "HTTP requests answered, by route template, method and status.",
            ["handler", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "Time from receiving a request to its response's last byte, by route template "
            "and method (a streamed generation counts until its last event).",
            ["handler", "method"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.queue_wait = Histogram(
            "attn_inference_queue_wait_seconds",
            "Time a request waited for a slot of the inference gate before its work ran.",
            buckets=WAIT_BUCKETS,
            registry=self.registry,
        )
        self.model_run = Histogram(
            "attn_model_run_seconds",
            "Time one model run took on an inference thread (attention, align, report and "
            "explain; cache hits run nothing), by model id.",
            ["model"],
            buckets=RUN_BUCKETS,
            registry=self.registry,
        )
        self.rejected = Counter(
            "attn_requests_rejected",
            "Requests refused, by reason: body_too_large (413), invalid (422), rate_limited "
            "(429), busy (503: the inference queue did not move in time).",
            ["reason"],
            registry=self.registry,
        )
        self.abandoned = Counter(
            "attn_requests_abandoned",
            "Requests whose client disconnected before the response was complete, as far as "
            "the server noticed (docs/deploy.md, Metrics).",
            registry=self.registry,
        )
        for reason in REJECTED_REASONS.values():
            self.rejected.labels(reason)  # shown as 0 from the start, so rate() has a base

    # GateObserver
    def queue_waited(self, seconds: float) -> None:
        self.queue_wait.observe(seconds)

    def model_ran(self, model: str, seconds: float) -> None:
        self.model_run.labels(model).observe(seconds)

    def request_done(self, status: int, abandoned: bool) -> None:
        """RequestOutcomes' callback, once per request."""
        reason = REJECTED_REASONS.get(status)
        if reason is not None:
            self.rejected.labels(reason).inc()
        if abandoned:
            self.abandoned.inc()

    def record_request(self, info: Info) -> None:
        """The instrumentator's callback, once per request except /metrics."""
        method = info.method if info.method in KNOWN_METHODS else "other"
        self.requests.labels(info.modified_handler, method, info.modified_status).inc()
        self.latency.labels(info.modified_handler, method).observe(info.modified_duration)

    def watch(
        self, gate: InferenceGate, batcher: Batcher, cache: RunCache, responses: ResponseCache
    ) -> None:
        """Read the gate's queue, the batches and the caches at every scrape."""
        self.registry.register(StateCollector(gate, batcher, cache, responses))


class StateCollector(Collector):
    """Figures that live in the gate and the caches, read when Prometheus scrapes."""

    def __init__(
        self, gate: InferenceGate, batcher: Batcher, cache: RunCache, responses: ResponseCache
    ) -> None:
        self.gate = gate
        self.batcher = batcher
        self.cache = cache
        self.responses = responses

    def collect(self) -> Iterable[Metric]:
        gate = self.gate
        yield GaugeMetricFamily(
            "attn_inference_queue_waiting",
            "Requests waiting for a slot of the inference gate.",
            value=gate.waiting,
        )
        yield GaugeMetricFamily(
            "attn_inference_running",
            "Slots of the inference gate held: runs (or generations) in flight.",
            value=gate.running,
        )
        yield GaugeMetricFamily(
            "attn_inference_slots", "Slots of the inference gate.", value=gate.concurrency
        )
        yield CounterMetricFamily(
            "attn_batches",
            "Forward passes the batcher ran for encoder texts (one text or several).",
            value=self.batcher.batches,
        )
        yield CounterMetricFamily(
            "attn_batched_texts",
            "Texts those passes ran: divided by attn_batches_total, the mean batch size.",
            value=self.batcher.texts,
        )
        yield from _lru_families(
            "attn_run_cache",
            self.cache,
            hits="Requests whose model run came from the run cache.",
            misses="Requests that had to run their model (a forward pass).",
            entries="Model runs held in the run cache.",
            held="Bytes of model runs held in the run cache.",
            capacity="The run cache's capacity in bytes.",
        )
        yield from _lru_families(
            "attn_response_cache",
            self.responses,
            hits="Requests answered with the stored bytes of an identical earlier response.",
            misses="Requests whose response was not stored (they go on to the run cache).",
            entries="Responses stored.",
            held="Bytes of stored responses and their keys.",
            capacity="The response cache's capacity in bytes.",
        )


def _lru_families(
    prefix: str,
    cache: BoundedLRU[Any],
    *,
    hits: str,
    misses: str,
    entries: str,
    held: str,
    capacity: str,
) -> Iterable[Metric]:
    """A bounded LRU's figures. Hits and misses are counters (rate() gives them per second);
    the rest gauges."""
    yield CounterMetricFamily(f"{prefix}_hits", hits, value=cache.hits)
    yield CounterMetricFamily(f"{prefix}_misses", misses, value=cache.misses)
    yield GaugeMetricFamily(f"{prefix}_entries", entries, value=len(cache))
    yield GaugeMetricFamily(f"{prefix}_bytes", held, value=cache.size_bytes)
    yield GaugeMetricFamily(f"{prefix}_max_bytes", capacity, value=cache.max_bytes)


def install_metrics(app: FastAPI, metrics: Metrics) -> None:
    """The middleware that records requests, and the GET /metrics route."""
    app.add_middleware(RequestOutcomes, on_done=metrics.request_done)
    instrumentator = Instrumentator(
        should_group_status_codes=False,  # a 422 and a 429 tell different stories
        should_ignore_untemplated=False,
        should_group_untemplated=True,
        excluded_handlers=[f"^{METRICS_PATH}$"],
        registry=metrics.registry,
    )
    instrumentator.add(metrics.record_request)
    instrumentator.instrument(app)
    instrumentator.expose(app, endpoint=METRICS_PATH, include_in_schema=False)
