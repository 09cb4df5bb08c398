"""The checkpoints a card describes: one per variant folder (or the model folder itself),
each with the JSON files training and evaluation left beside its weights."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.seq2seq.checkpoint import (
    CONFIG_FILE,
    METRICS_FILE,
    TRAINING_FILE,
    read_json,
    variant_names,
)


@dataclass(frozen=True)
class Entry:
    variant: str | None
    folder: Path
    config: dict[str, Any]  # config.json: family, variant, model sizes, data
    training: dict[str, Any]  # training.json; empty when missing
    metrics: dict[str, Any]  # metrics.json; empty when missing

    @property
    def label(self) -> str:
        return f"`{self.variant}`" if self.variant else "this model"


def _read_optional(path: Path) -> dict[str, Any]:
    return read_json(path) if path.is_file() else {}


def read_entries(model_dir: Path) -> list[Entry]:
    variants = variant_names(model_dir)
    folders: list[tuple[str | None, Path]] = (
        [(v, model_dir / v) for v in variants] if variants else [(None, model_dir)]
    )
    return [
        Entry(
            variant,
            folder,
            read_json(folder / CONFIG_FILE),
            _read_optional(folder / TRAINING_FILE),
            _read_optional(folder / METRICS_FILE),
        )
        for variant, folder in folders
    ]
