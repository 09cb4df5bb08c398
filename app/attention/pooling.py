"""Shrinks a block for an overview thumbnail while keeping every row a distribution."""

import math

import numpy as np


def pool_to(data: np.ndarray, max_size: int) -> np.ndarray:
    """(H, Q, K) -> at most (H, max_size, max_size).

    Queries are averaged in groups and keys summed in groups, so each pooled row is still a
    probability distribution over the pooled keys.
    """
    _, q, k = data.shape
    q_step = math.ceil(q / max_size)
    k_step = math.ceil(k / max_size)
    if q_step == 1 and k_step == 1:
        return data
    q_out = math.ceil(q / q_step)
    k_out = math.ceil(k / k_step)
    padded = np.pad(data, ((0, 0), (0, q_out * q_step - q), (0, k_out * k_step - k)))
    groups = padded.reshape(data.shape[0], q_out, q_step, k_out, k_step)
    summed = groups.sum(axis=(2, 4))  # (H, q_out, k_out)
    # The last group of queries may be short: divide by how many real rows it holds.
    rows = np.full(q_out, float(q_step), dtype=data.dtype)
    rows[-1] = q - (q_out - 1) * q_step
    return summed / rows[None, :, None]
