"""Word alignments read off a cross-attention matrix [target, source]: which source token each
target token was translating. Links are (target index, source index) pairs.

- argmax: each target token links to the source token it gives the most weight.
- threshold: every pair whose weight reaches the threshold (several links per target token,
  or none).
- union: argmax of each row, and of each column (each source token links to the target token
  that reads it most): a two-character word like 苹果 gets both characters linked to "apples".
- grow_diag: the two argmax directions symmetrized as statistical aligners are (Koehn et al.,
  2003): start from the links both directions agree on, then add a link of either direction
  next to one already kept (diagonals included) while its target or its source token has no
  link yet. Fewer stray links than union, more than the agreement alone.
- shift_att (Chen et al., 2020): argmax, but of the step where the target token is the
  decoder's *input* rather than the one that writes it; the decoder has seen the word then,
  and its attention shows where the word came from. The shift is made on the run, before
  words are merged: see `shift_rows`.
"""

from typing import Literal, get_args

import numpy as np

from app.attention.names import BlockName
from app.attention.run import AttentionRun

AlignMethod = Literal["argmax", "threshold", "union", "grow_diag", "shift_att"]
ALIGN_METHODS: tuple[AlignMethod, ...] = get_args(AlignMethod)
Pair = tuple[int, int]  # (target index, source index)


def links(matrix: np.ndarray, method: AlignMethod, threshold: float) -> list[Pair]:
    """The links of a [target, source] matrix, sorted by target then source index."""
    rows, cols = matrix.shape
    if rows == 0 or cols == 0:
        return []
    if method == "threshold":
        found = {(int(t), int(s)) for t, s in zip(*np.nonzero(matrix >= threshold), strict=True)}
    else:  # argmax and shift_att (its rows are already shifted), union, grow_diag
        found = {(t, int(s)) for t, s in enumerate(matrix.argmax(axis=1))}
        if method in ("union", "grow_diag"):
            backward = {(int(t), s) for s, t in enumerate(matrix.argmax(axis=0))}
            found = found | backward if method == "union" else grow_diag(found, backward)
    return sorted(found)


_NEIGHBOURS = [(-1, 0), (0, -1), (1, 0), (0, 1), (-1, -1), (-1, 1), (1, -1), (1, 1)]


def grow_diag(forward: set[Pair], backward: set[Pair]) -> set[Pair]:
    """The links both directions agree on, grown by links of either direction next to one
    (diagonals included) whose row or column is still unlinked (Koehn et al., 2003). Either
    orientation of the pairs, (target, source) or (source, target), gives the same links."""
    kept = forward & backward
    candidates = forward | backward
    rows = {t for t, _ in kept}
    cols = {s for _, s in kept}
    grew = True
    while grew:
        grew = False
        for t, s in sorted(kept):
            for dt, ds in _NEIGHBOURS:
                link = (t + dt, s + ds)
                if (
                    link in candidates
                    and link not in kept
                    and (link[0] not in rows or link[1] not in cols)
                ):
                    kept.add(link)
                    rows.add(link[0])
                    cols.add(link[1])
                    grew = True
    return kept


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
