"""The card's Evaluation and Examples sections, from each checkpoint's metrics.json: BLEU
and chrF per split and beam, the command that measures them again, and example
translations with the alignment of their attention."""

from __future__ import annotations

from typing import Any

from training.card.entries import Entry


def _score_cell(metrics: dict[str, Any], key: str) -> str:
    value = metrics.get(key)
    return f"{value['bleu']:.1f} / {value['chrf']:.1f}" if value else "–"


def evaluation_lines(entries: list[Entry], data: dict[str, Any]) -> list[str]:
    columns = sorted(
        {
            key
            for entry in entries
            for key, value in entry.metrics.items()
            if isinstance(value, dict) and "bleu" in value
        },
        key=lambda key: (key.split("_")[0] != "dev", int(key.split("beam")[1])),
    )
    headers = [key.replace("_beam1", " greedy").replace("_beam", " beam ") for key in columns]
    lines = [
        "## Evaluation",
        "",
        f"sacrebleu BLEU / chrF against the cased Tatoeba references ({data['test_pairs']} "
        f"test pairs, {data['dev_pairs']} dev pairs):",
        "",
        "| | " + " | ".join(headers) + " |",
        "|---" * (len(columns) + 1) + "|",
    ]
    for entry in entries:
        cells = [_score_cell(entry.metrics, key) for key in columns]
        lines.append(f"| {entry.label} | " + " | ".join(cells) + " |")
    commands = [e.metrics["command"] for e in entries if e.metrics.get("command")]
    if commands:
        lines += ["", "Measure it again:", "", "```", *dict.fromkeys(commands), "```"]
    lines += [
        "",
        "The page's translations are greedy; beam search is `attend(..., beam_size=5)`. "
        "Tatoeba sentences are short (median 9 characters) and the corpus holds many "
        "near-paraphrases, so held-out sentences often resemble training ones (only exact "
        "source duplicates are kept apart): expect lower scores on other text.",
        "",
    ]
    return lines


def example_lines(entries: list[Entry]) -> list[str]:
    lines = [
        "## Examples",
        "",
        "Alignment: for each English token, the source character with the highest "
        "(head-mean) cross-attention weight.",
        "",
    ]
    for entry in entries:
        metrics = entry.metrics
        if not metrics:
            continue
        if entry.variant:
            lines += [f"### {entry.variant}", ""]
        beam = metrics.get("examples_beam", 1)
        lines.append(f"Translations with beam {beam}:")
        lines.append("")
        for example in metrics["examples"]:
            reference = f" (reference: {example['reference']})" if example["reference"] else ""
            lines.append(f"- {example['source']} → **{example['output']}**{reference}")
            for block, text in example["alignment"].items():
                lines.append(f"  - `{block}`: {text}")
        demo = metrics["demo_alignment"]
        lines += ["", f'Teacher-forced "{demo["target"]}" on {demo["source"]}:', ""]
        for block, result in demo["blocks"].items():
            verdict = "aligned" if result["ok"] else "not aligned"
            lines.append(f"- `{block}`: {result['alignment']} ({verdict})")
        lines.append("")
    return lines
