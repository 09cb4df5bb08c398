"""The trained weights committed under models/: they load, translate the demo sentence
and align it the way the seed notes draw it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.seq2seq.checkpoint import WEIGHTS_FILE
from app.seq2seq.evaluate import DEMO_ALIGNMENT, alignment, cross_attention_names
from app.seq2seq.translator import Translator

MODELS = Path(__file__).resolve().parents[2] / "models"
SHIPPED = [
    ("bahdanau-zh-en", None),
    ("luong-zh-en", "dot"),
    ("luong-zh-en", "general"),
    ("luong-zh-en", "concat"),
    ("transformer-zh-en", None),
]
MAX_WEIGHTS_BYTES = 25 * 1024 * 1024


@pytest.fixture(scope="module", params=SHIPPED, ids=lambda p: f"{p[0]}[{p[1] or ''}]")
def shipped(request: pytest.FixtureRequest) -> Translator:
    model_id, variant = request.param
    return Translator.load(MODELS / model_id, variant)


def test_weights_files_are_small() -> None:
    files = sorted(MODELS.glob(f"*-zh-en/**/{WEIGHTS_FILE}"))
    assert len(files) == len(SHIPPED)
    for path in files:
        assert path.stat().st_size <= MAX_WEIGHTS_BYTES, path


def test_luong_offers_three_scores_with_general_by_default() -> None:
    translator = Translator.load(MODELS / "luong-zh-en")
    assert translator.variants == ["dot", "general", "concat"]
    assert translator.variant == "general"


def test_the_demo_sentence_is_translated_about_apples(shipped: Translator) -> None:
    run = shipped.attend("我爱吃苹果")
    assert run.output_text is not None and "apple" in run.output_text.lower()
    assert run.output_text[0].isupper()
    assert run.target.texts()[-1] == "</s>"
    for weights in run.blocks.values():
        assert np.allclose(weights.sum(axis=-1), 1, atol=1e-4)


def test_the_demo_alignment_holds_in_some_cross_attention_block(shipped: Translator) -> None:
    run = shipped.attend("我爱吃苹果", target="I love apples")
    assert run.source.texts() == ["我", "爱", "吃", "苹", "果", "</s>"]
    assert run.target.texts() == ["I", "love", "apples", "</s>"]
    found = {}
    for block in cross_attention_names(run):
        assert run.blocks[block].shape == (shipped.heads, 4, 6)
        found[block] = dict(alignment(run, block)[:3])
    assert any(
        all(pairs[word] in sources for word, sources in DEMO_ALIGNMENT.items())
        for pairs in found.values()
    ), found
