"""Attention rollout: per layer 0.5 * head mean + 0.5 * I, multiplied up from layer 0."""

import numpy as np
import pytest

from app.attention.errors import InputError
from app.attention.names import TokenListName, cross_attention, encoder_self_attention
from app.attention.ops.rollout import rollout
from app.attention.view import Label, View, ViewBlock

LABELS: dict[TokenListName, list[Label]] = {
    "source": [Label("a", False, (0,), 0), Label("b", False, (1,), 1)]
}
# Layer 0's heads average to [[1, 0], [0.5, 0.5]]; layer 1's one head swaps the tokens.
LAYER_0 = np.array([[[1.0, 0.0], [1.0, 0.0]], [[1.0, 0.0], [0.0, 1.0]]], dtype=np.float32)
LAYER_1 = np.array([[[0.0, 1.0], [1.0, 0.0]]], dtype=np.float32)


def _view(*blocks: ViewBlock) -> View:
    return View(LABELS, blocks)


def test_rollout_by_hand() -> None:
    view = _view(
        ViewBlock(encoder_self_attention(0), [0, 1], LAYER_0),
        ViewBlock(encoder_self_attention(1), [0], LAYER_1),
    )
    first, second = rollout(view).blocks
    # Â_0 = 0.5 [[1, 0], [0.5, 0.5]] + 0.5 I = [[1, 0], [0.25, 0.75]] (rows already sum to 1)
    np.testing.assert_allclose(first.data, [[[1.0, 0.0], [0.25, 0.75]]], atol=1e-7)
    # Â_1 = 0.5 [[0, 1], [1, 0]] + 0.5 I = [[0.5, 0.5], [0.5, 0.5]]; R_1 = Â_1 Â_0:
    # row 0 = 0.5 (1, 0) + 0.5 (0.25, 0.75) = (0.625, 0.375), and row 1 the same
    np.testing.assert_allclose(second.data, [[[0.625, 0.375], [0.625, 0.375]]], atol=1e-7)
    assert first.heads == [0, 1] and second.heads == [0]
    assert first.row_totals is None and second.row_totals is None


def test_rows_are_renormalized_after_the_residual_is_added() -> None:
    # A row that lost its mass (all keys dropped) sums to 0.5 with the residual: back to 1.
    lost = np.array([[[0.0, 0.0], [0.5, 0.5]]], dtype=np.float32)
    (block,) = rollout(_view(ViewBlock(encoder_self_attention(0), [0], lost))).blocks
    np.testing.assert_allclose(block.data, [[[1.0, 0.0], [0.25, 0.75]]], atol=1e-7)


def test_cross_attention_is_refused() -> None:
    view = _view(ViewBlock(cross_attention(0), [0], LAYER_1))
    with pytest.raises(InputError, match="encoder-decoder"):
        list(rollout(view).blocks)


def test_a_missing_first_layer_is_a_bug_of_the_caller() -> None:
    view = _view(ViewBlock(encoder_self_attention(1), [0], LAYER_1))
    with pytest.raises(ValueError, match="layer 0 is missing"):
        list(rollout(view).blocks)
