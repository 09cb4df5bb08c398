"""alignment.json in a checkpoint folder: how this checkpoint's attention aligns on the dev
gold set (written by training/align_eval.py), and the setting `method: "best"` uses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.attention.alignment import AlignSetting
from app.attention.ops.align import ALIGN_METHODS
from app.seq2seq.checkpoint import read_json, write_json

ALIGNMENT_FILE = "alignment.json"


def write_alignment_record(
    folder: Path, gold: Path, pairs: int, best: dict[str, Any], table: list[dict[str, Any]]
) -> None:
    write_json(
        folder / ALIGNMENT_FILE,
        {"gold": gold.name, "pairs": pairs, "best": best, "methods": table},
    )


def read_best_setting(folder: Path) -> AlignSetting | None:
    """The recorded best setting, or None when this checkpoint was never scored."""
    path = folder / ALIGNMENT_FILE
    if not path.is_file():
        return None
    best = read_json(path)["best"]
    if best["method"] not in ALIGN_METHODS:
        raise ValueError(f"{path}: unknown method {best['method']!r}")
    return AlignSetting(
        method=best["method"],
        layer=int(best["layer"]),
        head=None if best["head"] is None else int(best["head"]),
        threshold=float(best["threshold"] or 0.3),
    )


def read_alignment_record(folder: Path) -> dict[str, Any] | None:
    path = folder / ALIGNMENT_FILE
    record: dict[str, Any] | None = read_json(path) if path.is_file() else None
    return record
