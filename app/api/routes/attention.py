from fastapi import APIRouter, Response

from app.api.deps import RegistryDep, SettingsDep
from app.api.errors import ERROR_RESPONSES
from app.api.schemas import AttentionOut, AttentionRequest
from app.attention.blocks import select_blocks
from app.attention.payload import attention_payload, to_json
from app.settings import Settings
from app.zoo.base import InputError

router = APIRouter(prefix="/api/v1", tags=["attention"])


def check_text(value: str | None, field: str, settings: Settings) -> None:
    if value is None:
        return
    if not value.strip():
        raise InputError(f"'{field}' is empty or only whitespace; type some words")
    if len(value) > settings.max_chars:
        raise InputError(
            f"'{field}' is {len(value)} characters; this server accepts at most "
            f"{settings.max_chars}. Shorten it."
        )


def _new_token_budget(requested: int | None, settings: Settings) -> int:
    if requested is None:
        return settings.max_new_tokens
    if requested > settings.max_new_tokens:
        raise InputError(
            f"max_new_tokens is {requested}; this server generates at most "
            f"{settings.max_new_tokens} tokens per request"
        )
    return requested


@router.post(
    "/attention",
    summary="Every attention matrix of one model run, per layer and head",
    response_model=AttentionOut,
    responses=ERROR_RESPONSES,
)
def attention(request: AttentionRequest, registry: RegistryDep, settings: SettingsDep) -> Response:
    # A plain `def`: FastAPI runs it in a worker thread, so the forward pass never blocks the loop.
    adapter = registry.get(request.model)
    check_text(request.text, "text", settings)
    check_text(request.target, "target", settings)
    run = adapter.run(
        request.text,
        request.target,
        max_new_tokens=_new_token_budget(request.max_new_tokens, settings),
        variant=request.variant,
    )
    blocks = select_blocks(run.blocks, request.layers, request.heads)
    variant = request.variant or adapter.info.default_variant
    payload = attention_payload(adapter.info.id, variant, run, blocks)
    return Response(to_json(payload), media_type="application/json")
