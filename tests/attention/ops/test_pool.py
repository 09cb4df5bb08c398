"""Pooling for thumbnails: queries averaged in groups, keys summed in groups."""

import numpy as np
import torch

from app.attention.ops.pool import pool_rows_to, pool_to


def test_pooling_by_hand() -> None:
    # 3 queries x 4 keys down to 2 x 2: steps ceil(3/2) = 2 and ceil(4/2) = 2, so queries
    # {0, 1}, {2} and keys {0, 1}, {2, 3}.
    data = np.array(
        [
            [
                [0.1, 0.2, 0.3, 0.4],  # keys summed: 0.3, 0.7
                [0.4, 0.4, 0.1, 0.1],  # 0.8, 0.2
                [0.25, 0.25, 0.25, 0.25],  # 0.5, 0.5
            ]
        ],
        dtype=np.float32,
    )
    pooled = pool_to(data, 2)
    # row 0: the mean of (0.3, 0.7) and (0.8, 0.2); row 1: query 2 alone
    np.testing.assert_allclose(pooled, [[[0.55, 0.45], [0.5, 0.5]]], atol=1e-7)
    assert pooled.dtype == np.float32


def test_per_row_values_pool_in_the_same_groups_of_rows() -> None:
    values = np.array([[1.0, 2.0, 6.0]], dtype=np.float32)
    np.testing.assert_allclose(pool_rows_to(values, 2), [[1.5, 6.0]])
    assert pool_rows_to(values, 3) is values


def test_pooling_keeps_rows_distributions_and_averages_queries() -> None:
    data = torch.softmax(torch.randn(2, 13, 17), dim=-1).numpy()
    pooled = pool_to(data, 4)
    assert pooled.shape == (2, 4, 4) and pooled.dtype == np.float32
    assert np.allclose(pooled.sum(-1), np.ones((2, 4)), atol=1e-5)
    # First pooled row: mean of query rows 0-3, key columns 0-4 summed (17 keys -> steps of 5).
    expected = data[0, 0:4, 0:5].sum(-1).mean()
    assert np.isclose(pooled[0, 0, 0], expected, atol=1e-6)
    # The last query group holds only row 12 (13 = 3*4 + 1).
    assert np.isclose(pooled[1, 3, 3], data[1, 12, 15:].sum(), atol=1e-6)


def test_pooling_leaves_small_matrices_alone() -> None:
    data = np.random.default_rng(0).random((1, 5, 5), dtype=np.float32)
    assert pool_to(data, 8) is data
