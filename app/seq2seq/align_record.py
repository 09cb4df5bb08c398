"""alignment.json in a checkpoint folder: how this checkpoint's attention aligns on the dev
gold set (written by app/seq2seq/align_eval.py), and the setting `method: "best"` uses."""

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


METHOD_NAMES = {
    "argmax": "argmax",
    "threshold": "threshold",
    "union": "union (argmax both ways)",
    "grow_diag": "grow-diag (both ways, symmetrized)",
    "shift_att": "shift-att",
}


def _setting(row: dict[str, Any]) -> str:
    head = "head mean" if row["head"] is None else f"head {row['head']}"
    threshold = f", ≥ {row['threshold']}" if row.get("threshold") is not None else ""
    return f"layer {row['layer']}, {head}{threshold}"


def alignment_card_lines(entries: list[tuple[str | None, Path]]) -> list[str]:
    """The model card's Alignment section: for each checkpoint (variant, folder) scored by
    align_eval, dev-gold precision, recall and AER per method, and the default."""
    scored: list[tuple[str | None, dict[str, Any]]] = []
    for variant, folder in entries:
        record = read_alignment_record(folder)
        if record is not None:
            scored.append((variant, record))
    if not scored:
        return []
    pairs = scored[0][1]["pairs"]
    lines = [
        "## Alignment",
        "",
        f"Word alignments read off the cross-attention, scored on the hand-aligned dev gold set "
        f"(`models/alignment/`, {pairs} Tatoeba dev pairs, Chinese characters × English "
        "tokens, sure and possible links; Och & Ney precision, recall and AER, summed over "
        "the set). For each method, its best layer with the head mean and with any one head "
        "(`python -m app.seq2seq.align_eval`, which prints every setting):",
        "",
    ]
    for variant, record in scored:
        if variant:
            lines += [f"### {variant}", ""]
        lines += ["| method | setting | precision | recall | AER |", "|---|---|---|---|---|"]
        for row in record["methods"]:
            lines.append(
                f"| {METHOD_NAMES[row['method']]} | {_setting(row)} | {row['precision']:.3f} "
                f"| {row['recall']:.3f} | {row['aer']:.3f} |"
            )
        best = record["best"]
        lines += [
            "",
            f'Default (`method: "best"` of `POST /api/v1/align`): '
            f"**{METHOD_NAMES[best['method']]}, {_setting(best)}**, dev AER {best['aer']:.3f}. "
            "It was chosen on this same set, so the figure is optimistic: held-out pairs score "
            "lower.",
            "",
        ]
    return lines
