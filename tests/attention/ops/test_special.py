"""Dropping special tokens: their rows and columns go, the rest renormalized to sum to 1."""

import numpy as np

from app.attention.names import TokenListName, cross_attention, encoder_self_attention
from app.attention.ops.special import drop_special_tokens
from app.attention.view import Label, View, ViewBlock

SOURCE = [Label("[CLS]", True, (0,), 0), Label("a", False, (1,), 1), Label("b", False, (2,), 2)]


def test_rows_and_columns_of_special_tokens_go_and_rows_are_renormalized() -> None:
    data = np.array(
        [
            [
                [0.5, 0.25, 0.25],  # [CLS]'s row: dropped
                [0.6, 0.3, 0.1],  # a keeps 0.3 + 0.1 = 0.4 of its weight
                [0.2, 0.2, 0.6],  # b keeps 0.8
            ]
        ],
        dtype=np.float32,
    )
    data.flags.writeable = False  # as a cached run's arrays are: the op must copy
    totals = np.array([[2.0, 4.0, 8.0]], dtype=np.float32)
    labels: dict[TokenListName, list[Label]] = {"source": SOURCE}
    view = View(labels, [ViewBlock(encoder_self_attention(0), [0], data, totals)])
    dropped = drop_special_tokens(view)
    (block,) = dropped.blocks
    assert dropped.labels["source"] == SOURCE[1:]  # positions (1,), (2,) in the full run
    # a: (0.3, 0.1) / 0.4; b: (0.2, 0.6) / 0.8
    np.testing.assert_allclose(block.data, [[[0.75, 0.25], [0.25, 0.75]]], atol=1e-7)
    # each row's sum before normalizing, now over the keys left: 4 * 0.4 and 8 * 0.8
    assert block.row_totals is not None
    np.testing.assert_allclose(block.row_totals, [[1.6, 6.4]], atol=1e-6)


def test_cross_attention_loses_special_rows_and_columns_of_its_own_lists() -> None:
    target = [Label("x", False, (0,), 0), Label("</s>", True, (1,), 1)]
    labels: dict[TokenListName, list[Label]] = {"source": SOURCE, "target": target}
    data = np.array([[[0.5, 0.25, 0.25], [0.0, 0.0, 1.0]]], dtype=np.float32)  # [target, source]
    (block,) = drop_special_tokens(View(labels, [ViewBlock(cross_attention(0), [0], data)])).blocks
    # row x over (a, b): (0.25, 0.25) / 0.5; the </s> row and the [CLS] column are gone
    assert block.data.tolist() == [[[0.5, 0.5]]]
    assert block.row_totals is None
