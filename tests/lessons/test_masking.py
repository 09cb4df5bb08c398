import pytest
import torch

from app.lessons.masking import masked_softmax, valid_length_mask


def test_valid_length_mask_hides_keys_at_and_beyond_the_length() -> None:
    hidden = valid_length_mask(torch.tensor([1, 3, 4]), n_keys=4)
    assert hidden.tolist() == [
        [False, True, True, True],
        [False, False, False, True],
        [False, False, False, False],
    ]


def test_masked_softmax_gives_hidden_keys_exactly_zero_and_rows_sum_to_one() -> None:
    # Large scores on the hidden keys: a -1e6 style mask would still leak weight here.
    scores = torch.tensor([[0.5, -1.0, 30.0, 40.0], [2.0, 1.0, 0.0, 50.0]], dtype=torch.float64)
    hidden = valid_length_mask(torch.tensor([2, 3]), n_keys=4)
    weights = masked_softmax(scores, hidden)
    assert weights[hidden].tolist() == [0.0, 0.0, 0.0]
    assert torch.allclose(weights.sum(dim=-1), torch.ones(2, dtype=torch.float64), atol=1e-15)
    visible = torch.softmax(scores[0, :2], dim=-1)
    assert torch.equal(weights[0, :2], visible)


def test_masked_softmax_refuses_a_row_with_no_visible_key() -> None:
    with pytest.raises(ValueError, match="at least one visible key"):
        masked_softmax(torch.zeros(2, 3), torch.tensor([[False, True, True], [True, True, True]]))
