"""Links read off a cross-attention matrix, and the shift-att row move."""

import numpy as np

from app.attention.links import Link
from app.attention.names import cross_attention
from app.attention.ops.align import grow_diag, links, shift_rows
from app.attention.run import AttentionRun, TokenList

MATRIX = np.array(
    [
        [0.7, 0.2, 0.1],  # target 0 reads source 0
        [0.1, 0.45, 0.45],  # a tie: argmax takes the first
        [0.05, 0.05, 0.9],
        [0.3, 0.6, 0.1],
    ],
    dtype=np.float32,
)


def by_target(*pairs: tuple[int, int]) -> list[Link]:
    """Expected links written as the matrix reads them: (target row, source column)."""
    return [Link(source=s, target=t) for t, s in pairs]


def test_argmax_links_each_target_token_once() -> None:
    assert links(MATRIX, "argmax", 0.3) == by_target((0, 0), (1, 1), (2, 2), (3, 1))


def test_threshold_links_every_pair_that_reaches_it() -> None:
    assert links(MATRIX, "threshold", 0.45) == by_target((0, 0), (1, 1), (1, 2), (2, 2), (3, 1))
    assert links(MATRIX, "threshold", 0.95) == []


def test_union_adds_each_source_tokens_strongest_target() -> None:
    # columns: source 0 -> target 0, source 1 -> target 3, source 2 -> target 2
    assert links(MATRIX, "union", 0.3) == by_target((0, 0), (1, 1), (2, 2), (3, 1))
    wide = np.array([[0.5, 0.4], [0.6, 0.3]], dtype=np.float32)
    assert links(wide, "union", 0.3) == by_target((0, 0), (0, 1), (1, 0))


def test_shift_rows_reads_the_step_where_the_token_is_the_input() -> None:
    data = np.arange(2 * 3 * 2, dtype=np.float32).reshape(2, 3, 2)
    name = cross_attention(0)
    run = AttentionRun(
        blocks={name: data},
        source=TokenList.build(["a", "b"], [0, 1], [False, False]),
        target=TokenList.build(["x", "y", "</s>"], [0, 1, 2], [False, False, True]),
        target_input=TokenList.build(["<s>", "x", "y"], [0, 1, 2], [True, False, False]),
    )
    shifted = shift_rows(run, name).block(name)
    assert np.array_equal(shifted[:, 0], data[:, 1])  # "x" is the input of step 1
    assert np.array_equal(shifted[:, 1], data[:, 2])
    assert np.array_equal(shifted[:, 2], data[:, 2])  # </s>: no later step


def test_grow_diag_keeps_agreed_links_and_grows_to_unlinked_neighbours() -> None:
    # rows (targets) argmax: 0→0, 1→1, 2→1;  columns (sources) argmax: 0→0, 1→1, 2→2
    matrix = np.array(
        [
            [0.8, 0.1, 0.1],
            [0.1, 0.6, 0.3],
            [0.1, 0.5, 0.4],
        ],
        dtype=np.float32,
    )
    # agreed: (0,0), (1,1); (2,1) from the rows and (2,2) from the columns are both next to
    # (1,1): (2,1) joins first (target 2 unlinked), then (2,2) (source 2 still unlinked)
    assert links(matrix, "grow_diag", 0.3) == by_target((0, 0), (1, 1), (2, 1), (2, 2))
    far = np.array([[0.9, 0.05, 0.05], [0.8, 0.1, 0.1], [0.1, 0.2, 0.7]], dtype=np.float32)
    # rows: 0→0, 1→0, 2→2; columns: 0→0, 1→2, 2→2. Agreed (0,0), (2,2); (1,0) neighbours
    # (0,0) and target 1 is unlinked; (2,1) neighbours (2,2) and source 1 is unlinked
    assert links(far, "grow_diag", 0.3) == by_target((0, 0), (1, 0), (2, 1), (2, 2))


def test_grow_diag_order_decides_between_two_links_competing_for_one_token() -> None:
    agreed = {Link(source=0, target=2), Link(source=2, target=1)}
    # Both extra links would give source 1 its first link; whichever grows first takes it,
    # and then the other links two tokens that are already linked.
    forward = agreed | {Link(source=1, target=1)}  # next to (source 2, target 1)
    backward = agreed | {Link(source=1, target=2)}  # next to (source 0, target 2)
    # by target, (source 2, target 1) is visited first; by source, (source 0, target 2)
    assert grow_diag(forward, backward, by="target") == forward
    assert grow_diag(forward, backward, by="source") == backward
