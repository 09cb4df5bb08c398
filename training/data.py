"""The parallel corpus: Tatoeba and HSK pairs, read and split into train, dev and test."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from app.seq2seq.text import normalize_chinese

HSK_PLACEHOLDER_TRANSLATIONS = frozenset({"PH"})


@dataclass(frozen=True)
class Pair:
    source: str  # normalized simplified Chinese
    target: str  # English as written
    origin: str  # "tatoeba" or "hsk"


@dataclass(frozen=True)
class Splits:
    train: list[Pair]
    dev: list[Pair]
    test: list[Pair]


def file_sha256(path: Path) -> str:
    """The corpus file's fingerprint, recorded with a model so evaluation can tell whether
    it rebuilds the same split."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_tatoeba(path: Path) -> list[Pair]:
    """Read `English<TAB>Chinese` lines (the manythings.org/anki export)."""
    if not path.is_file():
        raise FileNotFoundError(f"Tatoeba file not found: {path} (expected English<TAB>Chinese)")
    pairs = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            fields = line.rstrip("\n").split("\t")
            if len(fields) < 2:
                raise ValueError(f"{path}:{number}: expected English<TAB>Chinese")
            english, chinese = fields[0].strip(), normalize_chinese(fields[1])
            if english and chinese:
                pairs.append(Pair(chinese, english, "tatoeba"))
    return pairs


def read_hsk() -> list[Pair]:
    """The HSK example sentences of the `hsk-sentences-audio` package."""
    from hsk_sentences_audio import load_sentences

    pairs = []
    for sentence in load_sentences():
        english = sentence["translation"]["en"].strip()
        chinese = normalize_chinese(sentence["chinese"])
        if english and chinese and english not in HSK_PLACEHOLDER_TRANSLATIONS:
            pairs.append(Pair(chinese, english, "hsk"))
    return pairs


def split_pairs(
    tatoeba: Sequence[Pair], extra: Sequence[Pair], seed: int, dev_size: int, test_size: int
) -> Splits:
    """Hold out dev and test pairs from Tatoeba only, grouping pairs by source sentence so
    that no held-out Chinese sentence (with any of its translations) is trained on; `extra`
    pairs go to training unless their source is held out."""
    groups: dict[str, list[Pair]] = {}
    for pair in tatoeba:
        groups.setdefault(pair.source, []).append(pair)
    sources = sorted(groups)
    random.Random(seed).shuffle(sources)
    held: list[list[Pair]] = [[], []]
    train: list[Pair] = []
    for source in sources:
        if len(held[0]) < test_size:
            held[0].extend(groups[source])
        elif len(held[1]) < dev_size:
            held[1].extend(groups[source])
        else:
            train.extend(groups[source])
    test, dev = held
    held_sources = {p.source for p in test} | {p.source for p in dev}
    train.extend(p for p in extra if p.source not in held_sources)
    return Splits(train=train, dev=dev, test=test)
