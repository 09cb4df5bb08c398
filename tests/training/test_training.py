"""Tiny end-to-end runs of the training command for each family (seconds, no real data)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.seq2seq.checkpoint import variant_names
from app.seq2seq.translator import Translator
from training import train
from training.data import read_hsk

from .conftest import TINY_FAMILIES, train_tiny


@pytest.mark.parametrize("family", list(TINY_FAMILIES))
def test_training_writes_a_loadable_model_folder(
    family: str, tiny_model_dirs: dict[str, Path]
) -> None:
    root = tiny_model_dirs[family]
    folder = root / "dot" if family == "luong" else root
    for name in ("config.json", "vocab.json", "model.safetensors", "training.json", "metrics.json"):
        assert (folder / name).is_file(), name
    training = json.loads((folder / "training.json").read_text())
    assert training["steps"] == 12
    assert [h["step"] for h in training["history"]] == [6, 12]
    metrics = json.loads((folder / "metrics.json").read_text())
    assert {"dev_beam1", "dev_beam2", "test_beam1", "test_beam2"} <= set(metrics)
    assert metrics["test_beam1"]["sentences"] >= 4
    card = (root / "README.md").read_text()
    assert "CC-BY-SA-4.0" in card and "Tatoeba Project contributors" in card
    assert "python -m training.train --model " + family in card

    translator = Translator.load(root)
    run = translator.attend("我喜歡苹果。")
    assert isinstance(run.output_text, str)
    assert run.source.texts() == ["我", "喜", "欢", "苹", "果", "。", "</s>"]


def test_luong_variants_live_in_one_folder_per_score(tiny_model_dirs: dict[str, Path]) -> None:
    root = tiny_model_dirs["luong"]
    assert variant_names(root) == ["dot"]
    translator = Translator.load(root)
    assert translator.variant == "dot" and translator.variants == ["dot"]
    with pytest.raises(ValueError, match="unknown variant"):
        Translator.load(root, variant="general")


def test_the_hsk_data_drops_placeholder_translations() -> None:
    pairs = read_hsk()
    assert len(pairs) > 4000
    assert all(p.target != "PH" and p.source for p in pairs)


def test_select_aligned_tracks_the_demo_and_the_card_says_so(
    tiny_tatoeba: Path, tmp_path: Path
) -> None:
    out = tmp_path / "luong"
    train_tiny("luong", tiny_tatoeba, out, "--select-aligned")
    training = json.loads((out / "dot" / "training.json").read_text())
    assert training["select_aligned"] is True
    assert all(isinstance(h["demo_aligned"], bool) for h in training["history"])
    # the lowest dev loss among the aligned evaluations; the last one when none aligned
    aligned = [h for h in training["history"] if h["demo_aligned"]]
    kept = min(aligned, key=lambda h: h["dev_loss"]) if aligned else training["history"][-1]
    assert training["best_step"] == kept["step"]
    assert "--select-aligned" in (out / "README.md").read_text()


def test_a_variant_flag_applies_to_its_family_only(tiny_tatoeba: Path, tmp_path: Path) -> None:
    common = ["--tatoeba", str(tiny_tatoeba), "--out", str(tmp_path)]
    assert train.parse_args(["--model", "luong", "--score", "dot", *common]).score == "dot"
    with pytest.raises(SystemExit):
        train.parse_args(["--model", "transformer", "--score", "dot", *common])
