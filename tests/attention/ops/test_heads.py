"""The mean over heads: [1, Q, K] per block, the heads it averages named."""

import numpy as np

from app.attention.names import TokenListName, encoder_self_attention
from app.attention.ops.heads import mean_over_heads
from app.attention.view import Label, View, ViewBlock

LABELS: dict[TokenListName, list[Label]] = {
    "source": [Label("a", False, (0,), 0), Label("b", False, (1,), 1)]
}


def test_the_head_mean_by_hand() -> None:
    heads = np.array(
        [
            [[1.0, 0.0], [0.5, 0.5]],
            [[0.0, 1.0], [0.25, 0.75]],
            [[0.5, 0.5], [0.0, 1.0]],
        ],
        dtype=np.float32,
    )
    totals = np.array([[3.0, 6.0], [0.0, 3.0], [3.0, 0.0]], dtype=np.float32)
    view = View(LABELS, [ViewBlock(encoder_self_attention(0), [1, 4, 7], heads, totals)])
    (block,) = mean_over_heads(view).blocks
    # row 0: (1 + 0 + 0.5) / 3, (0 + 1 + 0.5) / 3; row 1: (0.5 + 0.25 + 0) / 3, (0.5 + 0.75 + 1) / 3
    np.testing.assert_allclose(block.data, [[[0.5, 0.5], [0.25, 0.75]]], atol=1e-7)
    assert block.row_totals is not None
    np.testing.assert_allclose(block.row_totals, [[2.0, 3.0]])
    assert block.heads == [1, 4, 7]  # the model heads it averages
    assert block.data.sum(axis=-1).tolist() == [[1.0, 1.0]]


def test_no_totals_stay_none_and_the_input_is_untouched() -> None:
    heads = np.array([[[1.0, 0.0]], [[0.0, 1.0]]], dtype=np.float32)
    heads.flags.writeable = False  # as a cached run's arrays are
    view = View(LABELS, [ViewBlock(encoder_self_attention(0), [0, 1], heads)])
    (block,) = mean_over_heads(view).blocks
    assert block.data.tolist() == [[[0.5, 0.5]]] and block.row_totals is None
