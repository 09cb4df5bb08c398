import numpy as np
import pytest
import torch

from app.attention.ops.encode import ENCODINGS, decode, encode
from app.attention.ops.pool import pool_to


@pytest.fixture
def weights() -> np.ndarray:
    generator = torch.Generator().manual_seed(0)
    return torch.softmax(torch.randn(3, 7, 9, generator=generator), dim=-1).numpy()


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_every_encoding_round_trips(weights: np.ndarray, encoding: str) -> None:
    decoded = decode(encode(weights, encoding), list(weights.shape), encoding)  # type: ignore[arg-type]
    tolerance = {"json": 0.0, "uint8": 0.5 / 255 + 1e-7, "float16": 5e-4}[encoding]
    assert np.abs(decoded - weights).max() <= tolerance


def test_uint8_is_one_byte_a_weight_row_major(weights: np.ndarray) -> None:
    import base64

    raw = base64.b64decode(encode(weights, "uint8"))
    assert len(raw) == weights.size
    assert raw[1 * 7 * 9 + 2 * 9 + 3] == round(weights[1, 2, 3] * 255)


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
