from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from tests.tiny_models import FAMILY, build_tiny_model

DEMO_SENTENCE = "The animal didn't cross the street because it was too tired"


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One tiny random-weight model folder per kind, built once per test session."""
    root = tmp_path_factory.mktemp("tiny-models")
    return {kind: build_tiny_model(kind, root / kind) for kind in FAMILY}


@pytest.fixture(scope="session")
def settings(tiny_models: dict[str, Path]) -> Settings:
    return Settings(
        hf_models={f"tiny-{kind}": path for kind, path in tiny_models.items()},
        max_new_tokens=8,
    )


@pytest.fixture(scope="session")
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client
