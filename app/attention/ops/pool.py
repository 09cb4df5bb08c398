"""Shrinks a block for an overview thumbnail while keeping every row a distribution."""

import math

import numpy as np


def _group_sum(data: np.ndarray, step: int, axis: int) -> np.ndarray:
    """Sums of consecutive groups of `step` entries along `axis` (the last group may be short)."""
    return np.add.reduceat(data, np.arange(0, data.shape[axis], step), axis=axis)


def _group_sizes(length: int, step: int) -> np.ndarray:
    return np.diff([*range(0, length, step), length]).astype(np.float32)


def pool_to(data: np.ndarray, max_size: int) -> np.ndarray:
    """(H, Q, K) -> at most (H, max_size, max_size).

    Queries are averaged in groups and keys summed in groups, so each pooled row is still a
    probability distribution over the pooled keys.
    """
    _, q, k = data.shape
    q_step, k_step = max(1, math.ceil(q / max_size)), max(1, math.ceil(k / max_size))
    if q_step == 1 and k_step == 1:
        return data
    summed = _group_sum(_group_sum(data, k_step, axis=2), q_step, axis=1)
    return summed / _group_sizes(q, q_step)[None, :, None]


def pool_rows_to(values: np.ndarray, max_size: int) -> np.ndarray:
    """(H, Q) per-row values averaged in the same groups of rows as `pool_to`."""
    q = values.shape[1]
    step = max(1, math.ceil(q / max_size))
    if step == 1:
        return values
    return _group_sum(values, step, axis=1) / _group_sizes(q, step)[None, :]
