"""The routes, one module per resource, and the one router that mounts them all."""

from fastapi import APIRouter

from app.api.routes import (
    align,
    attention,
    docs,
    explain,
    generate,
    heads,
    health,
    lessons,
    models,
    pages,
    report,
)

api_router = APIRouter()
for module in (
    health,
    models,
    heads,
    attention,
    align,
    report,
    explain,
    generate,
    lessons,
    pages,
    docs,
):
    api_router.include_router(module.router)
