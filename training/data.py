"""Parallel data: loading Tatoeba and HSK pairs, seeded splits, token-budget batches."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from app.seq2seq.text import (
    normalize_chinese,
    sentence_starts,
    tokenize_chinese,
    tokenize_english,
    truecase,
)
from app.seq2seq.vocab import Vocab

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


def lowercase_vocabulary(targets: Sequence[list[str]]) -> set[str]:
    """Words seen in lowercase away from a sentence start: the truecasing evidence."""
    return {
        token
        for tokens in targets
        for token, start in zip(tokens, sentence_starts(tokens), strict=True)
        if not start and token == token.lower()
    }


def target_tokens(english: str, known_lowercase: set[str] | Vocab) -> list[str]:
    return truecase(tokenize_english(english), known_lowercase.__contains__)


@dataclass(frozen=True)
class Example:
    source: list[int]
    target: list[int]


def encode_pairs(
    pairs: Sequence[Pair],
    source_vocab: Vocab,
    target_vocab: Vocab,
    max_source_len: int | None = None,
    max_target_len: int | None = None,
) -> list[Example]:
    """Token ids (no specials; batching adds them); drops pairs over the length limits."""
    examples = []
    for pair in pairs:
        source = tokenize_chinese(pair.source)
        target = target_tokens(pair.target, target_vocab)
        if max_source_len is not None and len(source) + 1 > max_source_len:
            continue
        if max_target_len is not None and len(target) + 1 > max_target_len:
            continue
        examples.append(Example(source_vocab.encode(source), target_vocab.encode(target)))
    return examples


@dataclass(frozen=True)
class Batch:
    source: torch.Tensor  # (B, S) ids, source tokens then </s>, then <pad>
    source_mask: torch.Tensor  # (B, S) True at real tokens
    target_in: torch.Tensor  # (B, T) <s> y1 .. yn, then <pad>
    target_out: torch.Tensor  # (B, T) y1 .. yn </s>, then <pad>

    @property
    def target_tokens(self) -> int:
        return int((self.target_out != 0).sum())


def collate(examples: Sequence[Example], source_vocab: Vocab, target_vocab: Vocab) -> Batch:
    sources = [[*e.source, source_vocab.eos_id] for e in examples]
    targets_in = [[target_vocab.bos_id, *e.target] for e in examples]
    targets_out = [[*e.target, target_vocab.eos_id] for e in examples]

    def pad(rows: list[list[int]], value: int) -> torch.Tensor:
        width = max(len(r) for r in rows)
        return torch.tensor([r + [value] * (width - len(r)) for r in rows], dtype=torch.long)

    source = pad(sources, source_vocab.pad_id)  # (B, S)
    return Batch(
        source=source,
        source_mask=source != source_vocab.pad_id,
        target_in=pad(targets_in, target_vocab.pad_id),
        target_out=pad(targets_out, target_vocab.pad_id),
    )


def token_budget_batches(
    examples: Sequence[Example], max_tokens: int, rng: random.Random | None = None
) -> list[list[Example]]:
    """Group examples of similar length so that each batch holds about `max_tokens`
    padded source+target tokens. With `rng`, examples are shuffled within length pools
    and batches are returned in random order; without it, the order is deterministic."""
    order = list(range(len(examples)))
    if rng is not None:
        rng.shuffle(order)
    pool_size = 4096
    batches: list[list[Example]] = []
    for start in range(0, len(order), pool_size):
        pool = sorted(
            order[start : start + pool_size],
            key=lambda i: (len(examples[i].source), len(examples[i].target)),
        )
        batch: list[Example] = []
        width = 0
        for i in pool:
            example = examples[i]
            row = len(example.source) + len(example.target) + 2
            if batch and max(width, row) * (len(batch) + 1) > max_tokens:
                batches.append(batch)
                batch, width = [], 0
            batch.append(example)
            width = max(width, row)
        if batch:
            batches.append(batch)
    if rng is not None:
        rng.shuffle(batches)
    return batches


def iterate_batches(
    examples: Sequence[Example],
    source_vocab: Vocab,
    target_vocab: Vocab,
    max_tokens: int,
    rng: random.Random | None = None,
) -> Iterator[Batch]:
    for group in token_budget_batches(examples, max_tokens, rng):
        yield collate(group, source_vocab, target_vocab)
