"""Masked softmax: hidden keys get exactly zero weight, and every row still sums to one."""

import torch


def valid_length_mask(valid_lengths: torch.Tensor, n_keys: int) -> torch.Tensor:
    """True where a key is hidden: key j is hidden from query q when j >= valid_lengths[q].

    valid_lengths: (n_queries,) integers in 1..n_keys. Returns (n_queries, n_keys) booleans.
    """
    positions = torch.arange(n_keys)  # (n_keys,)
    return positions[None, :] >= valid_lengths[:, None]  # (n_queries, n_keys)


def masked_softmax(scores: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
    """Softmax over the last axis of `scores`, ignoring the keys where `hidden` is True.

    A hidden score becomes -inf before the softmax, so exp() gives exactly 0 for it (a large
    negative number such as -1e6 only gives "almost 0"). Every row needs one visible key.
    """
    if bool(hidden.all(dim=-1).any()):
        raise ValueError("every query needs at least one visible key")
    return torch.softmax(scores.masked_fill(hidden, float("-inf")), dim=-1)
