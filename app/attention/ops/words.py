"""Word level: tokens merged into the words a reader sees ("didn't", 苹果).

A word's row is the mean of its tokens' rows (each still a distribution) and its column is
the sum of its tokens' columns (the attention the word received), so every row still sums
to 1. token_groups in the response lists the token positions behind each word.
"""

from dataclasses import replace

import numpy as np

from app.attention.names import TokenListName
from app.attention.run import AttentionRun
from app.attention.view import Label, View


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


def merge_words(view: View, run: AttentionRun) -> View:
    starts = {which: _starts(labels) for which, labels in view.labels.items()}
    sizes = {
        which: np.diff([*index, len(view.labels[which])]).astype(np.float32)
        for which, index in starts.items()
    }
    blocks = []
    for block in view.blocks:
        rows: TokenListName = block.name.axes.rows
        cols: TokenListName = block.name.axes.cols
        if not starts[rows] or not starts[cols]:  # nothing left to merge (all dropped)
            blocks.append(block)
            continue
        summed = np.add.reduceat(block.data, starts[cols], axis=2)  # (h, Q, words)
        data = np.add.reduceat(summed, starts[rows], axis=1) / sizes[rows][None, :, None]
        totals = None
        if block.row_totals is not None:
            totals = np.add.reduceat(block.row_totals, starts[rows], axis=1) / sizes[rows]
        blocks.append(replace(block, data=data.astype(np.float32), row_totals=totals))
    labels = {
        which: _merged(labels, starts[which], run.tokens(which).words)
        for which, labels in view.labels.items()
    }
    return View(labels, blocks)
