"""Settings, read once from ATTN_* environment variables."""

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ATTN_")

    models_dir: Path = Field(
        PROJECT_ROOT / "models",
        description="Folder with manifest.toml and the weights the project ships.",
    )
    hf_models: dict[str, Path] = Field(
        default_factory=dict,
        description=(
            "Extra local Hugging Face model folders to serve, as a JSON object "
            'id -> path, e.g. ATTN_HF_MODELS=\'{"my-bert": "/data/my-bert"}\'.'
        ),
    )
    enabled_models: list[str] | None = Field(
        None,
        description=(
            "If set, serve only these manifest ids (JSON list). Extra hf_models are always served."
        ),
    )
    max_chars: int = Field(
        2000, ge=1, description="Longest text (and target) accepted, in characters."
    )
    max_tokens: int = Field(
        512,
        ge=1,
        description="Longest input accepted, in tokens; a model's own limit may be lower.",
    )
    max_new_tokens: int = Field(
        48, ge=1, description="Most tokens a decoder may generate for one request."
    )


@lru_cache
def get_settings() -> Settings:
    return Settings()
