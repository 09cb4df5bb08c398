"""Word alignments read off a cross-attention matrix [target, source]: which source token each
target token was translating. Links are (target index, source index) pairs.

- argmax: each target token links to the source token it gives the most weight.
- threshold: every pair whose weight reaches the threshold (several links per target token,
  or none).
- union: argmax of each row, and of each column (each source token links to the target token
  that reads it most): a two-character word like 苹果 gets both characters linked to "apples".
- shift_att (Chen et al., 2020): argmax, but of the step where the target token is the
  decoder's *input* rather than the one that writes it; the decoder has seen the word then,
  and its attention shows where the word came from. The shift is made on the run, before
  words are merged: see `shift_rows`.
"""

from typing import Literal, get_args

import numpy as np

from app.attention.names import BlockName
from app.attention.run import AttentionRun

AlignMethod = Literal["argmax", "threshold", "union", "shift_att"]
ALIGN_METHODS: tuple[AlignMethod, ...] = get_args(AlignMethod)
Pair = tuple[int, int]  # (target index, source index)


def links(matrix: np.ndarray, method: AlignMethod, threshold: float) -> list[Pair]:
    """The links of a [target, source] matrix, sorted by target then source index."""
    rows, cols = matrix.shape
    if rows == 0 or cols == 0:
        return []
    if method == "threshold":
        found = {(int(t), int(s)) for t, s in zip(*np.nonzero(matrix >= threshold), strict=True)}
    else:  # argmax and shift_att (its rows are already shifted), union
        found = {(t, int(s)) for t, s in enumerate(matrix.argmax(axis=1))}
        if method == "union":
            found |= {(int(t), s) for s, t in enumerate(matrix.argmax(axis=0))}
    return sorted(found)


def shift_rows(run: AttentionRun, name: BlockName) -> AttentionRun:
    """A run with only block `name`, whose row t is the original row t + 1: the step that
    reads target[t] as its input (run.target_input[t + 1] is target[t]). The last row has no
    later step and keeps its own; it is the </s> that ends a translation, which alignment
    leaves out as a special token."""
    data = run.block(name)
    shifted = np.concatenate([data[:, 1:], data[:, -1:]], axis=1)
    return AttentionRun(
        blocks={name: shifted},
        source=run.source,
        target=run.target,
        target_input=run.target_input,
    )
