"""How a block's weights travel: json as it is, uint8 bytes of weight * 255, float16 halves."""

import base64

import numpy as np
import pytest
import torch

from app.attention.ops.encode import ENCODINGS, decode, encode, totals_encoding


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
    raw = base64.b64decode(encode(weights, "uint8"))
    assert len(raw) == weights.size
    assert raw[1 * 7 * 9 + 2 * 9 + 3] == round(weights[1, 2, 3] * 255)


def test_uint8_bytes_by_hand() -> None:
    # 0 -> 0; 0.5 * 255 = 127.5 rounds to the even 128; 1 -> 255; 1.2 is clipped to 1 first.
    data = np.array([[[0.0, 0.5], [1.0, 1.2]]], dtype=np.float32)
    payload = encode(data, "uint8")
    assert payload == "AID//w=="  # base64 of the bytes 00 80 ff ff
    assert base64.b64decode(payload) == bytes([0, 128, 255, 255])
    decoded = decode(payload, [1, 2, 2], "uint8")
    assert decoded.dtype == np.float32
    assert decoded.tolist() == [[[0.0, np.float32(128 / 255)], [1.0, 1.0]]]


def test_float16_bytes_by_hand() -> None:
    # IEEE half floats, little-endian: 0.5 = 0x3800, 1 = 0x3c00, 0.25 = 0x3400, 0 = 0x0000.
    data = np.array([[[0.5, 1.0], [0.25, 0.0]]], dtype=np.float32)
    payload = encode(data, "float16")
    assert base64.b64decode(payload) == bytes([0x00, 0x38, 0x00, 0x3C, 0x00, 0x34, 0x00, 0x00])
    assert decode(payload, [1, 2, 2], "float16").tolist() == data.tolist()


def test_json_is_the_array_itself_and_decodes_to_its_shape() -> None:
    data = np.array([[[0.25, 0.75]]], dtype=np.float32)
    assert encode(data, "json") is data
    assert decode([0.25, 0.75], [1, 1, 2], "json").tolist() == [[[0.25, 0.75]]]


def test_row_totals_never_travel_as_bytes() -> None:
    assert [totals_encoding(e) for e in ENCODINGS] == ["json", "float16", "float16"]
