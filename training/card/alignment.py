"""The card's Alignment section, from each checkpoint's alignment.json: how its attention
aligns on the hand-aligned dev gold set, and the setting `method: "best"` uses."""

from __future__ import annotations

from typing import Any

from app.seq2seq.align_record import read_alignment_record
from training.card.entries import Entry

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


def alignment_lines(entries: list[Entry]) -> list[str]:
    """For each checkpoint scored by training/align_eval.py, dev-gold precision, recall and
    AER per method, and the default; nothing when none was scored."""
    scored: list[tuple[str | None, dict[str, Any]]] = []
    for entry in entries:
        record = read_alignment_record(entry.folder)
        if record is not None:
            scored.append((entry.variant, record))
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
        "(`python -m training.align_eval`, which prints every setting):",
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
