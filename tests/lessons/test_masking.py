import torch

from app.lessons.masking import valid_length_mask


def test_valid_length_mask_hides_keys_at_and_beyond_the_length() -> None:
    hidden = valid_length_mask(torch.tensor([1, 3, 4]), n_keys=4)
    assert hidden.tolist() == [
        [False, True, True, True],
        [False, False, False, True],
        [False, False, False, False],
    ]
