"""Fixtures: a tiny synthetic Tatoeba file and tiny models trained on it once per session
(tests/seq2seq reads them too)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from app.seq2seq.translator import Translator
from training import train

SUBJECTS = [
    ("我", "I", "like"),
    ("你", "You", "like"),
    ("他", "He", "likes"),
    ("她", "She", "likes"),
    ("我们", "We", "like"),
    ("他们", "They", "like"),
]
OBJECTS = [
    ("苹果", "apples"),
    ("香蕉", "bananas"),
    ("茶", "tea"),
    ("咖啡", "coffee"),
    ("猫", "cats"),
    ("狗", "dogs"),
    ("书", "books"),
]
# (--model, extra flags): one tiny checkpoint per family, Luong with the dot score
TINY_FAMILIES = {
    "bahdanau": [
        "--set",
        "embed_dim=16",
        "--set",
        "encoder_hidden=16",
        "--set",
        "decoder_hidden=24",
        "--set",
        "attention_dim=8",
    ],
    "luong": ["--score", "dot", "--set", "embed_dim=16", "--set", "encoder_hidden=16"],
    "transformer": [
        "--set",
        "d_model=16",
        "--set",
        "heads=2",
        "--set",
        "d_ff=32",
        "--set",
        "encoder_layers=1",
        "--set",
        "decoder_layers=2",
    ],
}


@pytest.fixture(scope="session")
def tiny_tatoeba(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """42 `English<TAB>Chinese` pairs, some in traditional characters."""
    lines = []
    for (zh_subject, en_subject, verb), (zh_object, en_object) in itertools.product(
        SUBJECTS, OBJECTS
    ):
        lines.append(f"{en_subject} {verb} {en_object}.\t{zh_subject}喜歡{zh_object}。")
    path = tmp_path_factory.mktemp("data") / "cmn-eng.tsv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def train_tiny(family: str, tatoeba: Path, out: Path, *flags: str) -> None:
    train.main(
        [
            "--model",
            family,
            "--tatoeba",
            str(tatoeba),
            "--out",
            str(out),
            "--no-hsk",
            "--dev-size",
            "4",
            "--test-size",
            "4",
            "--max-steps",
            "12",
            "--eval-every",
            "6",
            "--warmup",
            "2",
            "--batch-tokens",
            "200",
            "--beam",
            "1",
            "2",
            "--threads",
            "1",
            *TINY_FAMILIES[family],
            *flags,
        ]
    )


@pytest.fixture(scope="session")
def tiny_model_dirs(
    tiny_tatoeba: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """models/<id>-like folders of the three families, trained for a few steps."""
    root = tmp_path_factory.mktemp("models")
    dirs = {}
    for family in TINY_FAMILIES:
        dirs[family] = root / family
        train_tiny(family, tiny_tatoeba, dirs[family])
    return dirs


@pytest.fixture(scope="session")
def tiny_translators(tiny_model_dirs: dict[str, Path]) -> dict[str, Translator]:
    return {family: Translator.load(path) for family, path in tiny_model_dirs.items()}
