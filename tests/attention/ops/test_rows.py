"""Row normalization: every row scaled to sum to 1, a row of zeros left as it is."""

import numpy as np

from app.attention.ops.rows import normalize_rows


def test_rows_by_hand() -> None:
    data = np.array([[[1.0, 3.0], [0.0, 0.0]], [[2.0, 2.0], [0.5, 0.0]]], dtype=np.float32)
    normalized, totals = normalize_rows(data)
    assert normalized.tolist() == [[[0.25, 0.75], [0.0, 0.0]], [[0.5, 0.5], [1.0, 0.0]]]
    assert totals.tolist() == [[4.0, 0.0], [4.0, 0.5]]  # the sums before
    assert normalized is data  # in place: the caller passes an array it owns
    assert normalized.dtype == np.float32
