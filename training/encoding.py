"""Pairs as token ids: the vocabularies built from the training pairs, and each pair's
source and target ids under them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.seq2seq.text import sentence_starts, tokenize_chinese, tokenize_english, truecase
from app.seq2seq.vocab import Vocab
from training.data import Pair


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


def build_vocabularies(train: list[Pair], min_count: int) -> tuple[Vocab, Vocab]:
    source = Vocab.build((tokenize_chinese(p.source) for p in train), min_count)
    raw_targets = [tokenize_english(p.target) for p in train]
    known = lowercase_vocabulary(raw_targets)
    target = Vocab.build((truecase(t, known.__contains__) for t in raw_targets), min_count)
    return source, target


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
