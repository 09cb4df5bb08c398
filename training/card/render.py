"""A model card: its sections in order, written to models/<id>/README.md."""

from __future__ import annotations

from pathlib import Path

from training.card.about import data_lines, intro_lines, limitation_lines, model_lines
from training.card.alignment import alignment_lines
from training.card.entries import read_entries
from training.card.results import evaluation_lines, example_lines
from training.card.runs import training_lines


def render_card(model_dir: Path) -> str:
    entries = read_entries(model_dir)
    data = entries[0].config["data"]
    lines = [
        *intro_lines(model_dir.name, entries),
        *model_lines(entries),
        *data_lines(data),
        *training_lines(entries),
        *evaluation_lines(entries, data),
        *alignment_lines(entries),
        *example_lines(entries),
        *limitation_lines(),
    ]
    return "\n".join(lines)


def write_card(model_dir: Path) -> Path:
    path = model_dir / "README.md"
    path.write_text(render_card(model_dir), encoding="utf-8")
    return path
