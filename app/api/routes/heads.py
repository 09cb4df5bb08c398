from fastapi import APIRouter, Query

from app.api.deps import HeadRolesDep, RunsDep
from app.api.errors import ERROR_RESPONSES
from app.api.schemas.models import HeadRolesOut
from app.attention.errors import InputError
from app.zoo.base import ModelInfo

router = APIRouter(prefix="/api/v1", tags=["models"])


def _variant(info: ModelInfo, asked: str | None) -> str | None:
    """The variant whose heads to score: the one asked for, else the model's default."""
    if asked is None:
        return info.default_variant
    if asked not in info.variants:
        choices = ", ".join(info.variants) or "none (leave 'variant' out)"
        raise InputError(f"model '{info.id}' has no variant '{asked}'; its variants: {choices}")
    return asked


@router.get(
    "/models/{model_id}/heads",
    summary="What every head does: its role and scores, from the model's own attention on "
    "fixed probe texts",
    responses=ERROR_RESPONSES,
)
async def head_roles(
    model_id: str,
    runs: RunsDep,
    store: HeadRolesDep,
    variant: str | None = Query(
        None, max_length=32, description="One of the model's variants; the default if left out."
    ),
) -> HeadRolesOut:
    adapter = runs.adapter(model_id)
    return await store.get(adapter, _variant(adapter.info, variant), runs.gate)
