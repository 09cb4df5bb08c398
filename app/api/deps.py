"""Shared dependencies, as Annotated aliases so a route's signature reads like a sentence."""

from typing import Annotated

from fastapi import Depends, Request

from app.settings import Settings, get_settings
from app.zoo.registry import Registry


def get_registry(request: Request) -> Registry:
    registry: Registry = request.app.state.registry
    return registry


SettingsDep = Annotated[Settings, Depends(get_settings)]
RegistryDep = Annotated[Registry, Depends(get_registry)]
