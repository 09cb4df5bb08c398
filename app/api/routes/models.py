from dataclasses import asdict

from fastapi import APIRouter

from app.api.deps import RegistryDep
from app.api.schemas.models import ModelOut, ModelsOut

router = APIRouter(prefix="/api/v1", tags=["models"])


@router.get("/models", summary="The models this server offers")
async def list_models(registry: RegistryDep) -> ModelsOut:
    return ModelsOut(
        models=[
            ModelOut.model_validate({**asdict(info), "kv_heads": info.kv_heads or info.heads})
            for info in registry.infos()
        ]
    )
