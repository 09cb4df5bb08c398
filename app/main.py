"""Builds the ASGI app: `uvicorn app.main:app`."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from app.api.errors import install_error_handlers
from app.api.routes import attention, explain, health, models, pages
from app.settings import PROJECT_ROOT, Settings, get_settings
from app.zoo.registry import load_registry

DESCRIPTION = """
Every attention matrix a model computes, per layer and per head, as JSON.

Blocks are named `{stack}.{layer}.{kind}` and shaped `[heads, queries, keys]`:
`encoder.L.self_attn` is source x source, `decoder.L.self_attn` is target x target
(causal), `decoder.L.cross_attn` is target x source (the alignment).
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    """The app; `settings` replaces the environment's (tests pass their own)."""
    logging.basicConfig(level=logging.INFO)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Models load once, here, not at import: importing the app stays cheap.
        app.state.registry = load_registry(settings or get_settings())
        yield

    app = FastAPI(
        title="Attention Visualizer",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    if settings is not None:
        app.dependency_overrides[get_settings] = lambda: settings
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(models.router)
    app.include_router(attention.router)
    app.include_router(explain.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=PROJECT_ROOT / "static"), name="static")
    return app


app = create_app()
