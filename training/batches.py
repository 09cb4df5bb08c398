"""Token-budget batches of encoded examples, padded into the tensors a model reads."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch

from app.seq2seq.vocab import Vocab
from training.encoding import Example


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
