import unicodedata
from collections.abc import Callable, Hashable
from typing import Literal

import anyio.to_thread
from fastapi import APIRouter, Response

from app.api.batching import Batcher
from app.api.deps import (
    BatcherDep,
    CacheDep,
    GateDep,
    RegistryDep,
    RendererDep,
    SettingsDep,
    SharedCacheDep,
)
from app.api.errors import ERROR_RESPONSES
from app.api.inference import InferenceGate
from app.api.rendering import Renderer
from app.api.schemas import AttentionOut, AttentionRequest, RunFields
from app.api.shared_cache import SharedRunCache
from app.attention.analysis import Options, response_weights
from app.attention.cache import RunCache
from app.attention.errors import InputError
from app.attention.payload import render_attention
from app.attention.run import AttentionRun
from app.settings import Settings
from app.zoo.base import ModelAdapter, ModelInfo
from app.zoo.registry import Registry

router = APIRouter(prefix="/api/v1", tags=["attention"])


# Control characters other than tab and line breaks carry no text, and a lone surrogate is
# not text at all (tokenizers and JSON encoders refuse it): both are refused up front.
_ALLOWED_CONTROLS = frozenset("\t\n\r")


def _unusable_character(value: str) -> tuple[int, str] | None:
    for position, char in enumerate(value):
        category = unicodedata.category(char)
        if (category == "Cc" and char not in _ALLOWED_CONTROLS) or category == "Cs":
            return position, char
    return None


def check_text(value: str | None, field: str, limit: int) -> None:
    if value is None:
        return
    if len(value) > limit:
        raise InputError(
            f"'{field}' is {len(value)} characters; this server accepts at most {limit}. "
            "Shorten it."
        )
    unusable = _unusable_character(value)
    if unusable is not None:
        position, char = unusable
        what = (
            "an unpaired surrogate" if unicodedata.category(char) == "Cs" else "a control character"
        )
        raise InputError(
            f"'{field}' contains {what}, U+{ord(char):04X}, at position {position}; remove it"
        )
    if not any(_visible(char) for char in value):
        raise InputError(
            f"'{field}' has nothing to read: only spaces, combining marks, format or "
            "private-use characters; type some words"
        )


def _visible(char: str) -> bool:
    """A character that shows on its own: not a space, a combining mark (it only decorates
    the character before it), a format character or a private-use code point."""
    return unicodedata.category(char)[0] not in "ZMC"


def check_texts(text: str, target: str | None, settings: Settings) -> None:
    check_text(text, "text", settings.max_chars)
    check_text(target, "target", settings.max_target_chars)


def new_token_budget(requested: int | None, settings: Settings) -> int:
    if requested is None:
        return settings.max_new_tokens
    if requested > settings.max_new_tokens:
        raise InputError(
            f"max_new_tokens is {requested}; this server generates at most "
            f"{settings.max_new_tokens} tokens per request"
        )
    return requested


def check_request(request: RunFields, info: ModelInfo) -> None:
    """Refuse, before any forward pass, layers and heads this model does not have, and a
    generation budget for a model that does not generate."""
    bad_layer = next((n for n in request.layers or () if not 0 <= n < info.layers), None)
    if bad_layer is not None:
        raise InputError(
            f"layer {bad_layer} does not exist; this model has layers 0-{info.layers - 1}"
        )
    bad_head = next((n for n in request.heads or () if not 0 <= n < info.heads), None)
    if bad_head is not None:
        raise InputError(f"head {bad_head} does not exist; this model has heads 0-{info.heads - 1}")
    if request.max_new_tokens is not None and info.family == "encoder":
        raise InputError(
            f"model '{info.id}' is an encoder: it reads the text and writes nothing; leave "
            "'max_new_tokens' out"
        )


def check_options(options: Options, info: ModelInfo, registry: Registry) -> None:
    """Refuse, before any forward pass, what this model cannot offer, naming what can."""
    if options.weighting not in info.weightings:
        able = [i.id for i in registry.infos() if options.weighting in i.weightings]
        raise InputError(
            f"model '{info.id}' does not offer weighting '{options.weighting}': it needs the "
            "value vectors and output projection of every head, which this model's layout "
            f"does not expose. Models that offer it: {', '.join(able) or 'none'}."
        )
    if options.aggregate not in info.aggregates:
        raise InputError(
            f"model '{info.id}' does not offer aggregate '{options.aggregate}': rollout "
            "composes one stack's self-attention layer by layer, and an encoder-decoder's "
            "decoder also reads the source through cross-attention, which rollout has no rule "
            f"for. Choose one of: {', '.join(info.aggregates)}."
        )


def request_options(request: RunFields) -> Options:
    return Options(
        granularity=request.granularity,
        special_tokens=request.special_tokens,
        aggregate=request.aggregate,
        weighting=request.weighting,
    )


# (model, variant, what the model reads of the text, target, generation budget)
RunKey = tuple[str, str | None, Hashable, str | None, int | None]


def checked_key(
    request: RunFields,
    options: Options,
    adapter: ModelAdapter,
    registry: Registry,
    settings: Settings,
) -> tuple[RunKey, int]:
    """The checks every attention request passes before anything runs; returns the key of
    its run and its generation budget."""
    check_texts(request.text, request.target, settings)
    check_options(options, adapter.info, registry)
    check_request(request, adapter.info)
    budget = new_token_budget(request.max_new_tokens, settings)
    variant = request.variant or adapter.info.default_variant
    generates = request.target is None and adapter.info.family != "encoder"
    reading = registry.reading_key(adapter.info.id, request.text, request.variant)
    key = (adapter.info.id, variant, reading, request.target, budget if generates else None)
    return key, budget


# Where a run came from: the local cache, the shared one (Redis), or a forward pass here.
CacheStatus = Literal["local", "shared", "miss"]


def cache_headers(status: CacheStatus) -> dict[str, str]:
    """X-Cache says whether the run was cached (no forward pass for this request); on a hit,
    X-Cache-Tier says which tier had it."""
    if status == "miss":
        return {"X-Cache": "miss"}
    return {"X-Cache": "hit", "X-Cache-Tier": status}


async def checked_run(
    request: RunFields,
    options: Options,
    adapter: ModelAdapter,
    registry: Registry,
    settings: Settings,
    cache: RunCache,
    shared: SharedRunCache | None,
    gate: InferenceGate,
    batcher: Batcher | None = None,
    checked: tuple[RunKey, int] | None = None,
) -> tuple[AttentionRun, CacheStatus]:
    """The checks every attention request passes, then its run: from the local cache, the
    shared one, or computed on the inference gate (batched with other texts for the same
    encoder when a batcher is given) and then kept in both. Returns the run and where it
    came from. `checked`: what checked_key already returned for this request (it tokenizes
    the text: not twice)."""
    key, budget = checked or checked_key(request, options, adapter, registry, settings)

    # A miss is counted once, below, when it costs a forward pass.
    run = cache.get(key, count_miss=False)
    if run is not None:
        return run, "local"
    if shared is not None:
        run = await anyio.to_thread.run_sync(shared.get, adapter, key)
        if run is not None:
            cache.put(key, run)
            return run, "shared"

    def compute() -> AttentionRun:
        twin = cache.get(key)  # an identical request may have filled it while we queued
        if twin is not None:
            return twin
        fresh = gate.timed_run(
            adapter.info.id,
            lambda: adapter.run(
                request.text, request.target, max_new_tokens=budget, variant=request.variant
            ),
        )
        cache.put(key, fresh)
        return fresh

    if batcher is not None and adapter.batchable and request.target is None and not request.variant:
        cache.count_miss()  # the batch runs the model for it
        run = await batcher.run(adapter, request.text)
        cache.put(key, run)
    else:
        run = await gate.run(compute)
    if shared is not None and shared.fits(run):
        # Written before the answer, so that the next request for this text, on any replica,
        # finds it; off the gate, but for computing a computed run's blocks (torch work).
        held = await gate.run(run.materialized) if run.computed else run
        await anyio.to_thread.run_sync(shared.put, adapter, key, held)
    return run, "miss"


def check_response_weights(weights: int, settings: Settings) -> None:
    if weights > settings.max_response_weights:
        raise InputError(
            f"this response would carry {weights:,} attention weights; this server sends at "
            f"most {settings.max_response_weights:,} at once. Ask for fewer 'layers' or "
            "'heads', aggregate 'heads', or pool with 'max_size' (the run is cached: asking "
            "again costs no forward pass)."
        )


# Responses up to this many weights are encoded on the event loop: a 30-token MiniLM run
# (64,800 weights) takes about 0.3 ms in uint8, less than the hop to a render thread and
# back, and at most about 1 ms in JSON.
INLINE_RENDER_WEIGHTS = 100_000


async def rendered(
    gate: InferenceGate,
    renderer: Renderer,
    run: AttentionRun,
    render: Callable[[], bytes],
    weights: int | None = None,
) -> bytes:
    """`render()`'s bytes. A small response (`weights`, when known, up to
    INLINE_RENDER_WEIGHTS) is encoded at once; a larger one off the event loop and bounded
    (app/api/rendering.py): encoding a long run takes a while. A computed run
    (app/attention/run.py) does torch work as it renders: that belongs on the inference
    gate's threads."""
    if run.computed:
        return await gate.run(render)
    if weights is not None and weights <= INLINE_RENDER_WEIGHTS:
        return render()
    return await renderer.gate.run(render)


def check_json_weights(weights: int, encoding: str, settings: Settings) -> None:
    if encoding == "json" and weights > settings.max_json_weights:
        raise InputError(
            f"this response would carry {weights:,} attention weights as JSON, about "
            f"{weights * 10 / 1e6:,.0f} MB; JSON responses carry at most "
            f"{settings.max_json_weights:,}. Ask for encoding 'uint8' (1 byte a weight) or "
            "'float16', fewer 'layers' or 'heads', or pool with 'max_size'."
        )


def response_key(request: AttentionRequest, run_key: RunKey) -> tuple[object, ...]:
    """Everything the bytes of an /attention response depend on."""
    fields = request.model_dump(exclude={"model", "text", "target", "variant", "max_new_tokens"})
    return (run_key, tuple(sorted((k, repr(v)) for k, v in fields.items())))


@router.post(
    "/attention",
    summary="Every attention matrix of one model run, per layer and head",
    response_model=AttentionOut,
    responses=ERROR_RESPONSES,
)
async def attention(
    request: AttentionRequest,
    registry: RegistryDep,
    settings: SettingsDep,
    cache: CacheDep,
    shared: SharedCacheDep,
    gate: GateDep,
    renderer: RendererDep,
    batcher: BatcherDep,
) -> Response:
    adapter = registry.get(request.model)
    options = request_options(request)
    checked = checked_key(request, options, adapter, registry, settings)
    stored_key = response_key(request, checked[0])
    stored = renderer.cache.get(stored_key)
    if stored is not None:
        return Response(stored, media_type="application/json", headers=cache_headers("local"))
    run, cache_status = await checked_run(
        request, options, adapter, registry, settings, cache, shared, gate, batcher, checked
    )
    weights = response_weights(run, options, request.layers, request.heads, request.max_size)
    check_response_weights(weights, settings)
    check_json_weights(weights, request.encoding, settings)

    def render() -> bytes:
        return render_attention(
            adapter.info.id,
            request.variant or adapter.info.default_variant,
            run,
            options=options,
            layers=request.layers,
            heads=request.heads,
            encoding=request.encoding,
            max_size=request.max_size,
            explainable=adapter.info.explainable,
        )

    body = await rendered(gate, renderer, run, render, weights)
    if not run.computed:  # a computed run is long: its responses are not worth keeping
        renderer.cache.put(stored_key, body)
    return Response(body, media_type="application/json", headers=cache_headers(cache_status))
