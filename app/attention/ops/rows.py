"""Row normalization shared by the analyses that change what a row sums to."""

import numpy as np


def normalize_rows(data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(data with every row scaled to sum to 1, the row sums before), scaling `data` in
    place: pass an array the caller owns. A row that sums to 0 (every key it read was
    removed) stays all zeros: there is nothing to renormalize."""
    totals = data.sum(axis=-1)
    safe = np.where(totals > 0, totals, 1.0).astype(data.dtype)
    data /= safe[..., None]
    return data, totals
