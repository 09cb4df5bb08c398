"""Shared dependencies, as Annotated aliases so a route's signature reads like a sentence."""

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from app.api.batching import Batcher
from app.api.client_costs import requesting_client
from app.api.inference import InferenceGate
from app.api.rate_limit import client_address, client_key
from app.api.rendering import Renderer
from app.api.role_store import HeadRoleStore
from app.api.runs import RunService
from app.api.shared_cache import SharedRunCache
from app.attention.cache import RunCache
from app.settings import Settings
from app.zoo.registry import Registry


# `async def`: these only read app.state, and a sync dependency would cost a thread hop.
async def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_registry(request: Request) -> Registry:
    registry: Registry = request.app.state.registry
    return registry


async def get_cache(request: Request) -> RunCache:
    cache: RunCache = request.app.state.cache
    return cache


async def get_shared_cache(request: Request) -> SharedRunCache | None:
    shared: SharedRunCache | None = request.app.state.shared_cache
    return shared


async def get_gate(request: Request) -> InferenceGate:
    """The inference gate, and who is asking: the work this request starts on it is counted
    to its client's address, as the rate limit reads it (app/api/client_costs.py)."""
    gate: InferenceGate = request.app.state.gate
    settings: Settings = request.app.state.settings
    requesting_client.set(client_key(client_address(request.scope, settings.trusted_proxies)))
    return gate


async def get_batcher(request: Request) -> Batcher:
    batcher: Batcher = request.app.state.batcher
    return batcher


async def get_renderer(request: Request) -> Renderer:
    renderer: Renderer = request.app.state.renderer
    return renderer


async def get_head_roles(request: Request) -> HeadRoleStore:
    store: HeadRoleStore = request.app.state.head_roles
    return store


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
RegistryDep = Annotated[Registry, Depends(get_registry)]
CacheDep = Annotated[RunCache, Depends(get_cache)]
SharedCacheDep = Annotated[SharedRunCache | None, Depends(get_shared_cache)]
GateDep = Annotated[InferenceGate, Depends(get_gate)]
HeadRolesDep = Annotated[HeadRoleStore, Depends(get_head_roles)]
RendererDep = Annotated[Renderer, Depends(get_renderer)]
BatcherDep = Annotated[Batcher, Depends(get_batcher)]


async def get_runs(
    registry: RegistryDep,
    settings: SettingsDep,
    cache: CacheDep,
    shared: SharedCacheDep,
    gate: GateDep,
    batcher: BatcherDep,
    renderer: RendererDep,
) -> RunService:
    """The run service over this app's parts. Put together per request, from the other
    dependencies, so that a test that overrides one of them (the settings, say) reaches the
    service too; building it costs a few microseconds."""
    return RunService(registry, settings, cache, shared, gate, batcher, renderer)


RunsDep = Annotated[RunService, Depends(get_runs)]


async def require_json_body(request: Request) -> None:
    """A POST body must be sent as JSON; without this, a form or text body gets a puzzling 422.

    A dependency rather than middleware: it runs only for routes that exist, so a wrong method
    still gets the router's 405.
    """
    if request.method != "POST":
        return
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise HTTPException(
            status_code=415,
            detail="send the body as JSON with the header Content-Type: application/json",
        )
