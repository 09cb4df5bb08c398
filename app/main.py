"""Builds the ASGI app: `uvicorn app.main:app`."""

# ruff: noqa: E402 - the server's process settings go in before the imports below load torch.

from app.process_env import apply_process_settings
from app.settings import get_settings

# First, before anything imports torch (app.api.batching does, through the zoo): GNU OpenMP
# reads the spin count once, as torch loads it (app/process_env.py). Here, in the server's
# entry module, and not in `import app`: a notebook importing app.client must keep its own
# environment. The environment's settings decide, also for an app built with other settings
# (tests): the process was set up before they could be made.
apply_process_settings(get_settings().fast_path)

import gc
import logging
import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.middleware.trustedhost import TrustedHostMiddleware

from app.api.abandon import CancelWhenClientLeaves
from app.api.batching import Batcher
from app.api.deps import require_json_body
from app.api.errors import install_error_handlers
from app.api.inference import InferenceGate
from app.api.metrics import Metrics, install_metrics
from app.api.middleware import (
    HeadAsGet,
    RelativeRedirects,
    ReplicaHeader,
    RequestGuard,
    Scope,
    SecurityHeaders,
)
from app.api.openapi import install_openapi
from app.api.outcomes import mark_abandoned
from app.api.rate_limit import ClientRateLimiter, RateLimit
from app.api.redis_backoff import RedisBackoffs
from app.api.rendering import Renderer
from app.api.role_store import HeadRoleStore
from app.api.routes import api_router, docs
from app.api.shared_cache import SharedRunCache
from app.attention.cache import RunCache
from app.settings import PROJECT_ROOT, Settings
from app.zoo.registry import load_registry

DESCRIPTION = """
Every attention matrix a model computes, per layer and per head, as JSON.

Blocks are named `{stack}.{layer}.{kind}` and shaped `[heads, queries, keys]`:
`encoder.L.self_attn` is source x source, `decoder.L.self_attn` is target x target
(causal), `decoder.L.cross_attn` is target x source (the alignment).
"""

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The app; `settings` replaces the environment's (tests pass their own)."""
    logging.basicConfig(level=logging.INFO)

    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Models load once, here, not at import: importing the app stays cheap. They load
        # on the gate's threads, where they will run (see app/api/inference.py).
        gate: InferenceGate = app.state.gate
        app.state.registry = await gate.run(lambda: load_registry(settings))
        # What start-up made (the models and libraries: about 420,000 objects with MiniLM)
        # lives as long as the server. Frozen, it is left out of garbage collections: a
        # full collection walked it for 250 ms, every thread stopped, now and then under
        # load. Objects that requests make are collected as before.
        gc.collect()
        gc.freeze()
        yield
        gc.unfreeze()
        gate.close()
        if app.state.shared_cache is not None:
            app.state.shared_cache.close()

    app = FastAPI(
        title="Attention Visualizer",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        # Served by app/api/routes/docs.py, from this server (FastAPI's pages use a CDN).
        docs_url=None,
        redoc_url=None,
        dependencies=[Depends(require_json_body)],
    )
    # One registry per app: figures belong to this app, never to another in the process.
    metrics = Metrics() if settings.metrics else None
    app.state.settings = settings
    app.state.cache = RunCache(settings.cache_bytes)
    # The shared cache and the rate limit, when both use one Redis server, learn together
    # that it is away (app/api/redis_backoff.py).
    redis_backoffs = RedisBackoffs(settings.redis_retry_s)
    app.state.shared_cache = (
        SharedRunCache(
            settings.redis_url,
            ttl_s=settings.redis_ttl_s,
            max_entry_bytes=settings.redis_max_entry_bytes,
            timeout_s=settings.redis_timeout_s,
            backoff=redis_backoffs.for_url(settings.redis_url),
        )
        if settings.redis_url
        else None
    )
    app.state.gate = InferenceGate(
        settings.inference_concurrency,
        settings.queue_timeout_s,
        observer=metrics,
        short_run_gflop=settings.short_run_gflop,
        client_cost_gflop=settings.client_cost_gflop,
    )
    app.state.batcher = Batcher(app.state.gate, settings.max_batch)
    app.state.renderer = Renderer(
        settings.render_concurrency, settings.queue_timeout_s, settings.response_cache_bytes
    )
    app.state.head_roles = HeadRoleStore(settings.cache_dir)
    install_openapi(app, settings)
    install_error_handlers(app)
    # Innermost: it cancels the route itself when the client leaves (app/api/abandon.py).
    app.add_middleware(
        CancelWhenClientLeaves,
        prefixes=("/api/",),
        exempt=frozenset({"/api/v1/generate"}),  # streamed: it notices by itself
        on_abandoned=_client_left,
    )
    app.add_middleware(RequestGuard, max_body_bytes=settings.max_body_bytes)
    # Before the body is read, so a refused request costs no parsing.
    app.add_middleware(RateLimit, limiter=rate_limiter(settings, redis_backoffs))
    if metrics is not None:
        # Outside the limit and the guard, so their refusals are counted too.
        metrics.watch(app.state.gate, app.state.batcher, app.state.cache, app.state.renderer.cache)
        install_metrics(app, metrics)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(RelativeRedirects)  # every redirect, the router's included
    app.add_middleware(HeadAsGet)
    # Last added runs first: a request for another host is refused before anything else.
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=settings.allowed_hosts)
    # Outermost: even a refused host's 400 says which replica refused it.
    app.add_middleware(
        ReplicaHeader, name=settings.replica_name or f"{socket.gethostname()}:{os.getpid()}"
    )
    app.include_router(api_router)
    app.mount(docs.DOCS_ASSETS_URL, docs.docs_assets(), name="docs-assets")
    app.mount("/static", StaticFiles(directory=PROJECT_ROOT / "static"), name="static")
    return app


def _client_left(scope: Scope) -> None:
    log.info("client left: %s %s", scope["method"], scope["path"])
    mark_abandoned(scope)  # counted by app/api/metrics.py


def rate_limiter(settings: Settings, backoffs: RedisBackoffs) -> ClientRateLimiter | None:
    if not settings.rate_limit:
        return None
    storage = settings.rate_limit_storage
    return ClientRateLimiter(
        settings.rate_limit,
        storage,
        settings.trusted_proxies,
        timeout_s=settings.redis_timeout_s,
        backoff=None if storage.startswith("memory://") else backoffs.for_url(storage),
    )


app = create_app()
