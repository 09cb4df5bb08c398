"""The masked softmax every attention in the project uses: the lessons, the translators and
the step-by-step explanation of a head.

A hidden key's score becomes -inf before the softmax, so exp() gives it exactly 0 (a large
negative number such as -1e6 only gives "almost 0" and leaks weight when the scores are
large), and every row still sums to one over the keys it can see.
"""

import torch


def masked_softmax(scores: torch.Tensor, *, hidden: torch.Tensor) -> torch.Tensor:
    """Softmax over the last axis of `scores`, ignoring the keys where `hidden` is True.

    `hidden` is boolean and broadcasts against `scores` (e.g. (B, 1, 1, S) padding against
    (B, H, T, S) scores). Every query needs one visible key: a row with none would be all
    NaN, so it is refused instead.
    """
    if bool(hidden.all(dim=-1).any()):
        raise ValueError("every query needs at least one visible key")
    return torch.softmax(scores.masked_fill(hidden, float("-inf")), dim=-1)
