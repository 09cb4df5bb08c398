"""Word alignments read off a cross-attention matrix [target, source]: which source token each
target token was translating, as links (app/attention/links.py).

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

from app.attention.links import Link, reading_order
from app.attention.names import BlockName
from app.attention.run import AttentionRun

AlignMethod = Literal["argmax", "threshold", "union", "grow_diag", "shift_att"]
ALIGN_METHODS: tuple[AlignMethod, ...] = get_args(AlignMethod)


def links(matrix: np.ndarray, method: AlignMethod, threshold: float) -> list[Link]:
    """The links of a [target, source] matrix, sorted by target then source index."""
    rows, cols = matrix.shape
    if rows == 0 or cols == 0:
        return []
    if method == "threshold":
        reached = zip(*np.nonzero(matrix >= threshold), strict=True)
        found = {Link(source=int(s), target=int(t)) for t, s in reached}
    else:  # argmax and shift_att (its rows are already shifted), union, grow_diag
        found = {Link(source=int(s), target=t) for t, s in enumerate(matrix.argmax(axis=1))}
        if method in ("union", "grow_diag"):
            backward = {Link(source=s, target=int(t)) for s, t in enumerate(matrix.argmax(axis=0))}
            if method == "union":
                found |= backward
            else:
                found = grow_diag(found, backward, by="target")
    return sorted(found, key=reading_order)


GrowOrder = Literal["target", "source"]
# Offsets of (the index grow_diag orders by, the other index): the sides before the corners.
_NEIGHBOURS = [(-1, 0), (0, -1), (1, 0), (0, 1), (-1, -1), (-1, 1), (1, -1), (1, 1)]


def grow_diag(forward: set[Link], backward: set[Link], by: GrowOrder) -> set[Link]:
    """The links both directions agree on, grown by links of either direction next to one
    (diagonals included) whose source or target token is still unlinked (Koehn et al., 2003).

    Growing is greedy, so where two candidates compete for one token the order decides:
    the kept links are visited sorted by the `by` index, then the other, and each one's
    neighbours in _NEIGHBOURS' order. The alignment route grows by target; the eflomal
    priors the shipped translators were trained with grew by source.
    """

    def order(link: Link) -> tuple[int, int]:
        return reading_order(link) if by == "target" else (link.source, link.target)

    offsets = [(ds, dt) for dt, ds in _NEIGHBOURS] if by == "target" else _NEIGHBOURS
    # Plain (source, target) tuples are welcome too: they become Links here.
    kept = {Link(*pair) for pair in forward & backward}
    candidates = {Link(*pair) for pair in forward | backward}
    linked_sources = {link.source for link in kept}
    linked_targets = {link.target for link in kept}
    grew = True
    while grew:
        grew = False
        for link in sorted(kept, key=order):
            for d_source, d_target in offsets:
                near = Link(source=link.source + d_source, target=link.target + d_target)
                if (
                    near in candidates
                    and near not in kept
                    and (near.source not in linked_sources or near.target not in linked_targets)
                ):
                    kept.add(near)
                    linked_sources.add(near.source)
                    linked_targets.add(near.target)
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
