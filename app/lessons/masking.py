"""Which keys a query may see when only the first few keys of each query are valid."""

import torch


def valid_length_mask(valid_lengths: torch.Tensor, n_keys: int) -> torch.Tensor:
    """True where a key is hidden: key j is hidden from query q when j >= valid_lengths[q].

    valid_lengths: (n_queries,) integers in 1..n_keys. Returns (n_queries, n_keys) booleans,
    the `hidden` argument of app.attention.softmax.masked_softmax.
    """
    positions = torch.arange(n_keys)  # (n_keys,)
    return positions[None, :] >= valid_lengths[:, None]  # (n_queries, n_keys)
