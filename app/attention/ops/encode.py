"""How a block's weights travel: nested JSON lists, or base64 bytes a browser decodes fast.

- json: nested lists [head][query][key] of float32 values (about 10 bytes a weight).
- uint8: base64 of H*Q*K bytes, row-major [head, query, key]; weight = byte / 255
  (1.33 bytes a weight, within 1/510 of the float).
- float16: base64 of little-endian IEEE half floats, row-major (2.67 bytes a weight).
"""

import base64
from typing import Any, Literal

import numpy as np

Encoding = Literal["json", "uint8", "float16"]
ENCODINGS: tuple[Encoding, ...] = ("json", "uint8", "float16")


def encode(data: np.ndarray, encoding: Encoding) -> Any:
    """`data` is float32 (H, Q, K); the result goes into the block's "data" field."""
    if encoding == "json":
        return data  # orjson writes float32 arrays as nested lists directly
    if encoding == "uint8":
        quantized = np.rint(np.clip(data, 0.0, 1.0) * 255.0).astype(np.uint8)
        return base64.b64encode(quantized.tobytes()).decode("ascii")
    halves = data.astype("<f2")
    return base64.b64encode(halves.tobytes()).decode("ascii")


def decode(payload: Any, shape: list[int], encoding: Encoding) -> np.ndarray:
    """The inverse of `encode`, as float32 (H, Q, K): for clients and tests."""
    if encoding == "json":
        return np.asarray(payload, dtype=np.float32).reshape(shape)
    raw = base64.b64decode(payload)
    if encoding == "uint8":
        return (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) / 255.0).reshape(shape)
    return np.frombuffer(raw, dtype="<f2").astype(np.float32).reshape(shape)


def totals_encoding(encoding: Encoding) -> Encoding:
    """Row totals are not weights in [0, 1]: bytes would clip them, so they travel as half
    floats whenever the weights travel compactly."""
    return "json" if encoding == "json" else "float16"
