"""The trained weights committed under models/: they load, translate the demo sentence
and align it the way the seed notes draw it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.attention.alignment import AlignSetting, align
from app.seq2seq.align_record import read_best_setting
from app.seq2seq.checkpoint import WEIGHTS_FILE
from app.seq2seq.translator import Translator
from training.demo import DEMO_ALIGNMENT, cross_attention_names

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


@pytest.mark.parametrize(("model_id", "variant"), SHIPPED)
def test_the_demo_aligns_with_the_models_recorded_method(
    model_id: str, variant: str | None
) -> None:
    """The links `method: "best"` draws (the setting chosen on the dev gold set, recorded
    beside the weights) give the seed picture: I → 我, love → 爱, apples → 苹 or 果."""
    shipped = Translator.load(MODELS / model_id, variant)
    run = shipped.attend("我爱吃苹果", target="I love apples")
    assert run.source.texts() == ["我", "爱", "吃", "苹", "果", "</s>"]
    assert run.target.texts() == ["I", "love", "apples", "</s>"]
    for block in cross_attention_names(run):
        assert run.blocks[block].shape == (shipped.heads, 4, 6)
    folder = MODELS / model_id / (variant or "")
    setting = read_best_setting(folder) or AlignSetting("argmax", max(shipped.layers - 2, 0))
    links = align(run, setting, "token").links
    found = {run.target.texts()[link.target]: set() for link in links}
    for link in links:
        found[run.target.texts()[link.target]].add(run.source.texts()[link.source])
    for word, sources in DEMO_ALIGNMENT.items():
        assert found.get(word, set()) & sources, (setting, found)
