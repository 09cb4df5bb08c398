import json
import pickle
import struct

import numpy as np
import pytest

from app.attention.names import cross_attention, decoder_self_attention, encoder_self_attention
from app.attention.run import AttentionRun, ComputedBlocks, TokenList
from app.attention.run_codec import MAGIC, CodecError, decode_run, encode_run


def _rows(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    weights = rng.random(shape, dtype=np.float32)
    return weights / weights.sum(axis=-1, keepdims=True)


def _translation() -> AttentionRun:
    """Every kind of block, all three token lists, words of several tokens, special tokens,
    value norms and an output text: what a translator's run carries."""
    rng = np.random.default_rng(0)
    source = TokenList.build(
        ["我", "爱", "吃", "苹", "果", "</s>"], [0, 1, 2, 3, 3, -1], [False] * 5 + [True]
    )
    target = TokenList.build(
        ["I", "lo", "ve", "apples", "</s>"], [0, 1, 1, 2, -1], [False] * 4 + [True]
    )
    target_input = target.shifted_right("<s>")
    blocks = {
        encoder_self_attention(0): _rows(rng, (2, 6, 6)),
        decoder_self_attention(0): np.tril(_rows(rng, (2, 5, 5))).astype(np.float32),
        cross_attention(0): _rows(rng, (2, 5, 6)),
    }
    norms = {
        name: rng.random((2, block.shape[2]), dtype=np.float32) for name, block in blocks.items()
    }
    return AttentionRun(
        blocks,
        source=source,
        target=target,
        target_input=target_input,
        value_norms=norms,
        output_text='I love "apples" 🍎',
    )


def test_a_run_survives_the_round_trip_exactly() -> None:
    run = _translation()
    back = decode_run(encode_run(run))
    assert (back.source, back.target, back.target_input) == (
        run.source,
        run.target,
        run.target_input,
    )
    assert back.output_text == run.output_text
    assert back.sorted_names() == run.sorted_names()
    for name in run.blocks:
        assert back.block(name).dtype == np.float32
        np.testing.assert_array_equal(back.block(name), run.block(name))
        assert not back.block(name).flags.writeable  # read-only, like any cached run
    assert run.value_norms is not None and back.value_norms is not None
    for name, norms in run.value_norms.items():
        np.testing.assert_array_equal(back.value_norms[name], norms)
    assert back.size_bytes == run.size_bytes


def test_a_run_without_value_norms_or_output_keeps_them_absent() -> None:
    source = TokenList.build(["[CLS]", "hi", "[SEP]"], [-1, 0, -1], [True, False, True])
    run = AttentionRun(
        {encoder_self_attention(0): np.full((1, 3, 3), 1 / 3, np.float32)}, source=source
    )
    back = decode_run(encode_run(run))
    assert back.value_norms is None and back.output_text is None and back.source == source


def test_a_computed_run_is_encoded_once_its_blocks_are_computed() -> None:
    name = encoder_self_attention(0)
    blocks = ComputedBlocks({name: (1, 1, 1)}, lambda _n, _h: np.ones((1, 1, 1), np.float32), 0)
    run = AttentionRun(blocks, source=TokenList.build(["a"], [0], [False]))
    with pytest.raises(ValueError, match="computed"):
        encode_run(run)
    held = run.materialized()  # its blocks computed and kept: now it is data
    assert not held.computed and held.weights_bytes == run.weights_bytes == 4
    np.testing.assert_array_equal(decode_run(encode_run(held)).block(name), np.ones((1, 1, 1)))


def _header_and_data(encoded: bytes) -> tuple[dict, bytes]:
    (length,) = struct.unpack("<I", encoded[len(MAGIC) : len(MAGIC) + 4])
    start = len(MAGIC) + 4
    return json.loads(encoded[start : start + length]), encoded[start + length :]


def _with_header(header: object, data: bytes) -> bytes:
    encoded = json.dumps(header).encode()
    return MAGIC + struct.pack("<I", len(encoded)) + encoded + data


def test_anything_but_an_encoded_run_is_refused() -> None:
    good = encode_run(_translation())
    header, data = _header_and_data(good)
    broken_shape = json.loads(json.dumps(header))
    broken_shape["blocks"][0]["shape"] = [2, 6, 5]  # no longer matches the source tokens
    wrong_dtype = json.loads(json.dumps(header))
    wrong_dtype["blocks"][0]["dtype"] = "<f8"
    bad_name = json.loads(json.dumps(header))
    bad_name["blocks"][0]["name"] = "__import__('os')"
    bad_token = json.loads(json.dumps(header))
    bad_token["source"]["tokens"][0][1] = True
    refused = [
        b"",
        good[:5],
        b"ATTNRUN0" + good[8:],  # another version
        good[:-1],  # cut short
        good + b"\0",  # bytes after the last array
        pickle.dumps(_translation()),
        MAGIC + struct.pack("<I", 10**9) + b"{}",  # a header longer than the data
        MAGIC + struct.pack("<I", 4) + b"\xff\xfe[]",  # not UTF-8 JSON
        _with_header([], data),
        _with_header(broken_shape, data),
        _with_header(wrong_dtype, data),
        _with_header(bad_name, data),
        _with_header(bad_token, data),
    ]
    for blob in refused:
        with pytest.raises(CodecError):
            decode_run(blob)
