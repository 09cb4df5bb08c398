"""Value-norm weighting: each weight times its key's value norm, rows renormalized."""

import numpy as np
import pytest

from app.attention.errors import InputError
from app.attention.names import TokenListName, encoder_self_attention
from app.attention.ops.value_norm import weight_by_value_norm
from app.attention.run import AttentionRun, TokenList
from app.attention.view import Label, View, ViewBlock

NAME = encoder_self_attention(0)
# Two heads over two keys; head 1's norms make key 1 three times as strong as key 0.
WEIGHTS = np.array(
    [[[0.5, 0.5], [1.0, 0.0]], [[0.5, 0.5], [0.25, 0.75]]],
    dtype=np.float32,
)
NORMS = np.array([[2.0, 2.0], [1.0, 3.0]], dtype=np.float32)
LABELS: dict[TokenListName, list[Label]] = {
    "source": [Label("a", False, (0,), 0), Label("b", False, (1,), 1)]
}


def _run(norms: np.ndarray | None) -> AttentionRun:
    source = TokenList.build(["a", "b"], [0, 1], [False, False])
    return AttentionRun(
        {NAME: WEIGHTS}, source=source, value_norms=None if norms is None else {NAME: norms}
    )


def test_value_norm_weighting_by_hand() -> None:
    run = _run(NORMS)
    view = View(LABELS, [ViewBlock(NAME, [0, 1], WEIGHTS)])
    (block,) = weight_by_value_norm(view, run).blocks
    # head 0: equal norms change nothing; row sums 0.5*2 + 0.5*2 = 2 and 1*2 + 0*2 = 2
    # head 1: row 0 (0.5*1, 0.5*3) = (0.5, 1.5), sum 2; row 1 (0.25*1, 0.75*3) = (0.25, 2.25),
    # sum 2.5, so (0.1, 0.9)
    np.testing.assert_allclose(
        block.data, [[[0.5, 0.5], [1.0, 0.0]], [[0.25, 0.75], [0.1, 0.9]]], atol=1e-7
    )
    assert block.row_totals is not None
    np.testing.assert_allclose(block.row_totals, [[2.0, 2.0], [2.0, 2.5]], atol=1e-6)


def test_a_selected_head_is_weighted_by_its_own_norms() -> None:
    view = View(LABELS, [ViewBlock(NAME, [1], WEIGHTS[1:])])
    (block,) = weight_by_value_norm(view, _run(NORMS)).blocks
    np.testing.assert_allclose(block.data, [[[0.25, 0.75], [0.1, 0.9]]], atol=1e-7)


def test_a_model_without_value_norms_is_refused() -> None:
    view = View(LABELS, [ViewBlock(NAME, [0, 1], WEIGHTS)])
    with pytest.raises(InputError, match="weighting 'attention'"):
        weight_by_value_norm(view, _run(None))
