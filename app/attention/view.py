"""What the analyses pass along: the blocks being shown and the labels of their axes.

A view starts as a selection of a run's blocks at token level (app/attention/ops/select.py);
each analysis in app/attention/ops takes a view and returns a new one, never changing the
arrays it was given (they may belong to a cached run).

The labels are worked out at once; the blocks flow through one at a time (an iterator,
consumed once, in contract order): a long run's blocks are computed when read and must not
all be in memory together, so each is analysed, encoded and let go before the next.
"""

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from app.attention.names import BlockName, TokenListName


@dataclass(frozen=True)
class Label:
    """One row or column label: a token, or a word made of tokens."""

    text: str
    special: bool
    positions: tuple[int, ...]  # the tokens it covers, as positions in the token-level run
    word: int  # the word of the token-level list it belongs to


@dataclass(frozen=True)
class ViewBlock:
    name: BlockName
    # The model's head of each entry along axis 0; after a head mean or rollout, axis 0 has
    # one entry and these are the heads it averages.
    heads: list[int]
    data: np.ndarray  # float32 (entries, rows, cols)
    # Under value-norm weighting: each row's sum before it was normalized to 1 (entries, rows).
    row_totals: np.ndarray | None = None


@dataclass(frozen=True)
class View:
    labels: dict[TokenListName, list[Label]]
    blocks: Iterable[ViewBlock]

    def rows(self, block: ViewBlock) -> list[Label]:
        return self.labels[block.name.axes.rows]

    def cols(self, block: ViewBlock) -> list[Label]:
        return self.labels[block.name.axes.cols]
