from fastapi import APIRouter

from app.api.deps import RegistryDep

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness: the server is up and how many models it offers")
async def healthz(registry: RegistryDep) -> dict[str, object]:
    return {"status": "ok", "models": len(registry.infos())}
