"""Guided alignment (Garg et al., 2019): supervise one cross-attention distribution with
prior word alignments (training.prior_alignment) while training for translation.

For the attention row t that writes target token t, with prior links to the source
characters J_t, the alignment loss is

    -sum_{j in J_t} (1 / |J_t|) log alpha_{t,j}

averaged over the rows that have at least one link (rows without links, the </s> row and
padding are skipped); the training loss is NLL + weight * alignment loss. For the
Transformer one head of one decoder layer is supervised (Garg et al. take the
penultimate layer); the GRU models have a single attention distribution.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import torch

from app.attention.links import Link
from app.seq2seq.text import tokenize_chinese
from app.seq2seq.vocab import Vocab
from training.batches import Batch, collate, token_budget_batches
from training.data import Pair
from training.encoding import Example, target_tokens


@dataclass(frozen=True)
class AlignedExample(Example):
    links: tuple[Link, ...] = field(default=())  # (source index, target index), 0-based


def token_pairs(pairs: Sequence[Pair], target_vocab: Vocab) -> list[tuple[list[str], list[str]]]:
    """The (Chinese, English) tokens of each pair exactly as encode_pairs tokenizes them."""
    return [(tokenize_chinese(p.source), target_tokens(p.target, target_vocab)) for p in pairs]


def encode_aligned(
    tokens: Sequence[tuple[list[str], list[str]]],
    alignments: Sequence[set[Link]],
    source_vocab: Vocab,
    target_vocab: Vocab,
    max_source_len: int,
    max_target_len: int,
) -> list[Example]:
    """Like encoding.encode_pairs (same ids, same length filter), keeping each pair's links."""
    examples: list[Example] = []
    for (source, target), links in zip(tokens, alignments, strict=True):
        if len(source) + 1 > max_source_len or len(target) + 1 > max_target_len:
            continue
        examples.append(
            AlignedExample(
                source_vocab.encode(source), target_vocab.encode(target), tuple(sorted(links))
            )
        )
    return examples


def drop_last_source(example: Example) -> Example:
    """The example without its final source token (and without links to it)."""
    if isinstance(example, AlignedExample):
        last = len(example.source) - 1
        links = tuple(link for link in example.links if link[0] < last)
        return AlignedExample(example.source[:-1], example.target, links)
    return Example(example.source[:-1], example.target)


def prior_matrix(examples: Sequence[Example], batch: Batch) -> torch.Tensor:
    """(B, T, S) target distribution: row t of example b holds 1/|J_t| at each linked
    source position, zeros elsewhere (rows without links stay all zero)."""
    prior = torch.zeros(batch.target_out.size(0), batch.target_out.size(1), batch.source.size(1))
    for b, example in enumerate(examples):
        links = example.links if isinstance(example, AlignedExample) else ()
        for i, j in links:
            prior[b, j, i] = 1.0
    counts = prior.sum(-1, keepdim=True)
    return prior / counts.clamp_min(1.0)


def alignment_loss(attention: torch.Tensor, prior: torch.Tensor) -> torch.Tensor:
    """Mean over rows with links of -sum_j prior[t, j] log attention[t, j].

    attention and prior are (B, T, S); attention rows sum to 1 over the source."""
    rows = prior.sum(-1) > 0  # (B, T)
    log_attention = torch.log(attention.float().clamp_min(1e-9))
    per_row = -(prior * log_attention).sum(-1)  # (B, T)
    return per_row[rows].sum() / rows.sum().clamp_min(1)


def aligned_batches(
    examples: Sequence[Example],
    source_vocab: Vocab,
    target_vocab: Vocab,
    max_tokens: int,
    rng: random.Random | None = None,
) -> Iterator[tuple[Batch, torch.Tensor]]:
    """batches.iterate_batches with each batch's prior matrix."""
    for group in token_budget_batches(examples, max_tokens, rng):
        batch = collate(group, source_vocab, target_vocab)
        yield batch, prior_matrix(group, batch)
