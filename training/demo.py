"""The demo sentence (我爱吃苹果 / "I love apples") and how a run's cross-attention aligns
it: checked after training and at every evaluation of --select-aligned, and shown as text
in the model card's examples."""

from __future__ import annotations

from typing import Any

from app.attention.names import BlockName
from app.attention.run import AttentionRun
from app.seq2seq.translator import Translator

DEMO_SOURCE = "我爱吃苹果"
DEMO_TARGET = "I love apples"
# what the alignment of the demo sentence should show: target word -> acceptable sources
DEMO_ALIGNMENT = {"I": {"我"}, "love": {"爱"}, "apples": {"苹", "果"}}


def cross_attention_names(run: AttentionRun) -> list[BlockName]:
    return [name for name in run.sorted_names() if name.kind == "cross_attn"]


def alignment(run: AttentionRun, block: BlockName) -> list[tuple[str, str]]:
    """(target token, source token with the highest head-mean attention) per step."""
    weights = run.blocks[block].mean(axis=0)  # (T, S)
    best = weights.argmax(axis=-1).tolist()
    sources = run.source.texts()
    return [(t, sources[s]) for t, s in zip(run.target.texts(), best, strict=True)]


def alignment_text(pairs: list[tuple[str, str]]) -> str:
    return " ".join(f"{target}→{source}" for target, source in pairs)


def demo_alignment(translator: Translator) -> dict[str, Any]:
    """Teacher-force "I love apples" on 我爱吃苹果 and check each cross-attention block."""
    run = translator.attend(DEMO_SOURCE, target=DEMO_TARGET)
    layers = {}
    for block in cross_attention_names(run):
        pairs = alignment(run, block)
        ok = all(source in DEMO_ALIGNMENT[t] for t, source in pairs if t in DEMO_ALIGNMENT)
        layers[str(block)] = {"alignment": alignment_text(pairs), "ok": ok}
    return {
        "source": DEMO_SOURCE,
        "target": DEMO_TARGET,
        "blocks": layers,
        "ok": any(layer["ok"] for layer in layers.values()),
    }
