"""Reads models/manifest.toml into typed entries."""

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ExampleEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str
    target: str | None = None


class ManifestEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")
    name: str
    adapter: Literal["huggingface", "seq2seq"]
    # Where the weights are: a folder (relative to models/) or an installed package's folder.
    path: str | None = None
    package: str | None = None
    package_subdir: str = ""
    # A GGUF file in that folder: dequantized once into the cache folder (app/zoo/gguf.py).
    gguf_file: str | None = None
    # This model's longest input in tokens, instead of the server-wide ATTN_MAX_TOKENS.
    max_tokens: int | None = Field(None, ge=1)
    languages: list[str] = Field(default_factory=list)
    license: str = ""
    source: str = ""
    description: str = ""
    examples: list[ExampleEntry] = Field(default_factory=list)


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    models: list[ManifestEntry]


def read_manifest(path: Path) -> Manifest:
    with path.open("rb") as f:
        return Manifest.model_validate(tomllib.load(f))
