"""Word level: tokens merged into the words a reader sees ("didn't", 苹果).

A word's row is the mean of its tokens' rows (each still a distribution) and its column is
the sum of its tokens' columns (the attention the word received), so every row still sums
to 1. token_groups in the response lists the token positions behind each word.
"""

from dataclasses import replace
from typing import Any

import numpy as np

from app.attention.names import TokenListName
from app.attention.run import AttentionRun
from app.attention.view import Label, View, ViewBlock


def _starts(labels: list[Label]) -> list[int]:
    """Where each word's run of labels begins (a word's tokens are always adjacent)."""
    return [i for i, label in enumerate(labels) if i == 0 or label.word != labels[i - 1].word]


def _merged(labels: list[Label], starts: list[int], words: tuple[str, ...]) -> list[Label]:
    ends = [*starts[1:], len(labels)] if starts else []
    merged = []
    for start, end in zip(starts, ends, strict=True):
        group = labels[start:end]
        positions = tuple(p for label in group for p in label.positions)
        first = group[0]
        merged.append(Label(words[first.word], first.special, positions, first.word))
    return merged


def _merge_axis(data: np.ndarray, starts: list[int], axis: int, mean: bool) -> np.ndarray:
    """Sum (or average) the runs of entries along `axis` that begin at `starts`.

    Most words are one token: those are taken as they are, and only the few longer words
    are added up (np.add.reduceat over hundreds of one-token groups is several times
    slower on a 512-token block).
    """
    merged = data.take(starts, axis=axis)
    ends = [*starts[1:], data.shape[axis]]
    for word, (start, end) in enumerate(zip(starts, ends, strict=True)):
        if end - start == 1:
            continue
        into: list[Any] = [slice(None)] * data.ndim
        into[axis] = word
        rest: list[Any] = [slice(None)] * data.ndim
        rest[axis] = slice(start + 1, end)
        merged[tuple(into)] += data[tuple(rest)].sum(axis=axis)
        if mean:
            merged[tuple(into)] /= end - start
    return merged


def merge_words(view: View, run: AttentionRun) -> View:
    starts = {which: _starts(labels) for which, labels in view.labels.items()}

    def merged(block: ViewBlock) -> ViewBlock:
        rows: TokenListName = block.name.axes.rows
        cols: TokenListName = block.name.axes.cols
        if not starts[rows] or not starts[cols]:  # nothing left to merge (all dropped)
            return block
        summed = _merge_axis(block.data, starts[cols], axis=2, mean=False)  # (h, Q, words)
        data = _merge_axis(summed, starts[rows], axis=1, mean=True)  # (h, words, words)
        totals = None
        if block.row_totals is not None:
            totals = _merge_axis(block.row_totals, starts[rows], axis=1, mean=True)
        return replace(block, data=data, row_totals=totals)

    labels = {
        which: _merged(labels, starts[which], run.tokens(which).words)
        for which, labels in view.labels.items()
    }
    return View(labels, map(merged, view.blocks))
