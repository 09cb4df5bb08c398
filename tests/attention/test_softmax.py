"""The one masked softmax: hidden keys exactly 0, rows summing to 1, a blind row refused."""

import pytest
import torch

from app.attention.softmax import masked_softmax
from app.lessons.masking import valid_length_mask


def test_masked_softmax_gives_hidden_keys_exactly_zero_and_rows_sum_to_one() -> None:
    # Large scores on the hidden keys: a -1e6 style mask would still leak weight here.
    scores = torch.tensor([[0.5, -1.0, 30.0, 40.0], [2.0, 1.0, 0.0, 50.0]], dtype=torch.float64)
    hidden = valid_length_mask(torch.tensor([2, 3]), n_keys=4)
    weights = masked_softmax(scores, hidden=hidden)
    assert weights[hidden].tolist() == [0.0, 0.0, 0.0]
    assert torch.allclose(weights.sum(dim=-1), torch.ones(2, dtype=torch.float64), atol=1e-15)
    visible = torch.softmax(scores[0, :2], dim=-1)
    assert torch.equal(weights[0, :2], visible)


def test_masked_softmax_refuses_a_row_with_no_visible_key() -> None:
    with pytest.raises(ValueError, match="at least one visible key"):
        masked_softmax(
            torch.zeros(2, 3), hidden=torch.tensor([[False, True, True], [True, True, True]])
        )


def test_a_padding_mask_broadcasts_over_heads_and_queries() -> None:
    # A batch of two sources, the second padded after two keys, as the translators pass it:
    # (B, 1, 1, S) padding against (B, H, T, S) scores.
    scores = torch.arange(2 * 3 * 2 * 3, dtype=torch.float32).reshape(2, 3, 2, 3) / 7
    padding = torch.tensor([[False, False, False], [False, False, True]])[:, None, None, :]
    weights = masked_softmax(scores, hidden=padding)
    assert weights[1, :, :, 2].eq(0).all()
    assert torch.equal(weights[0], torch.softmax(scores[0], dim=-1))
    assert torch.equal(weights[1, :, :, :2], torch.softmax(scores[1, :, :, :2], dim=-1))


def test_a_causal_mask_leaves_the_first_query_its_own_key() -> None:
    future = torch.ones(3, 3, dtype=torch.bool).triu(diagonal=1)
    weights = masked_softmax(torch.zeros(3, 3, dtype=torch.float64), hidden=future)
    assert weights.tolist() == [[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [1 / 3, 1 / 3, 1 / 3]]
