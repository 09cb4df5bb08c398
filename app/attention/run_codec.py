"""An AttentionRun as bytes and back, for a cache shared between replicas (Redis).

Never pickle: whoever can write to a shared cache could then run code in every replica that
reads it. The format holds data only, and decoding checks it all:

    b"ATTNRUN1"  magic and version
    uint32 LE    length of the header
    header       UTF-8 JSON: the three token lists (text, word, special of each token, and the
                 words), output_text, and for each block and each value-norm array its name,
                 dtype ("<f4") and shape, in the order their bytes follow
    data         the arrays' raw little-endian float32 bytes, concatenated, nothing after

A decoded run is an ordinary AttentionRun: its constructor checks every block's shape against
its token labels, and the arrays are read-only views of the bytes. Only runs that hold their
matrices are encoded: a computed run (ComputedBlocks, every SmolLM2 run) keeps model tensors
to compute them from, which are not data; AttentionRun.materialized() computes its blocks
first, when they are few enough to share (app/api/shared_cache.py).
"""

import json
import struct
from collections.abc import Mapping
from typing import Any

import numpy as np

from app.attention.names import TOKEN_LISTS, BlockName
from app.attention.run import AttentionRun, Token, TokenList

MAGIC = b"ATTNRUN1"
_LENGTH = struct.Struct("<I")
_DTYPE = np.dtype("<f4")
_MAX_HEADER_BYTES = 64 * 1024 * 1024


class CodecError(ValueError):
    """The bytes are not a run this codec wrote."""


def _token_list(tokens: TokenList) -> dict[str, Any]:
    return {
        "tokens": [[t.text, t.word, t.special] for t in tokens.tokens],
        "words": list(tokens.words),
    }


def _arrays(arrays: Mapping[BlockName, np.ndarray]) -> tuple[list[dict[str, Any]], list[bytes]]:
    described: list[dict[str, Any]] = []
    data: list[bytes] = []
    for name in sorted(arrays, key=lambda n: n.sort_key):
        array = np.ascontiguousarray(arrays[name], dtype=_DTYPE)
        described.append({"name": str(name), "dtype": _DTYPE.str, "shape": list(array.shape)})
        data.append(array.tobytes())
    return described, data


def encode_run(run: AttentionRun) -> bytes:
    """The run as bytes. Raises ValueError for a computed run: it holds no matrices."""
    if run.computed:
        raise ValueError("a computed run holds model tensors, not matrices; it is not encoded")
    blocks, block_data = _arrays(run.blocks)
    norms, norm_data = _arrays(run.value_norms or {})
    header: dict[str, Any] = {
        **{which: _token_list(run.tokens(which)) for which in TOKEN_LISTS},
        "output_text": run.output_text,
        "blocks": blocks,
        "value_norms": norms if run.value_norms is not None else None,
    }
    encoded = json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode()
    return b"".join([MAGIC, _LENGTH.pack(len(encoded)), encoded, *block_data, *norm_data])


def _expect(condition: bool, what: str) -> None:
    if not condition:
        raise CodecError(what)


def _read_token_list(value: Any) -> TokenList:
    _expect(isinstance(value, dict), "a token list is not an object")
    tokens, words = value.get("tokens"), value.get("words")
    _expect(isinstance(tokens, list) and isinstance(words, list), "a token list lacks its lists")
    _expect(all(isinstance(w, str) for w in words), "a word is not a string")
    read: list[Token] = []
    for token in tokens:
        _expect(isinstance(token, list) and len(token) == 3, "a token is not [text, word, special]")
        text, word, special = token
        _expect(
            isinstance(text, str)
            and isinstance(word, int)
            and not isinstance(word, bool)
            and isinstance(special, bool),
            "a token has the wrong types",
        )
        read.append(Token(text, word, special))
    return TokenList(tuple(read), tuple(words))


def _read_arrays(
    described: Any, data: memoryview, offset: int, rank: int
) -> tuple[dict[BlockName, np.ndarray], int]:
    """Blocks (rank 3, [heads, queries, keys]) or value norms (rank 2, [heads, keys]), as
    read-only views of `data` from `offset` on; returns them and the offset after them."""
    _expect(isinstance(described, list), "the arrays are not a list")
    arrays: dict[BlockName, np.ndarray] = {}
    for entry in described:
        _expect(isinstance(entry, dict), "an array entry is not an object")
        _expect(entry.get("dtype") == _DTYPE.str, "an array is not little-endian float32")
        shape = entry.get("shape")
        _expect(
            isinstance(shape, list)
            and len(shape) == rank
            and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape),
            "an array's shape is not a list of sizes",
        )
        name = BlockName.parse(str(entry.get("name")))
        _expect(name not in arrays, f"{name} appears twice")
        count = int(np.prod(shape, dtype=np.int64))
        end = offset + count * _DTYPE.itemsize
        _expect(end <= len(data), "the data is shorter than the header says")
        arrays[name] = np.frombuffer(data[offset:end], dtype=_DTYPE).reshape(shape)
        offset = end
    return arrays, offset


def decode_run(data: bytes) -> AttentionRun:
    """The run `encode_run` wrote; CodecError for anything else."""
    view = memoryview(data)
    _expect(bytes(view[: len(MAGIC)]) == MAGIC, "not an encoded run (wrong magic or version)")
    start = len(MAGIC) + _LENGTH.size
    _expect(len(view) >= start, "the data is cut short")
    (length,) = _LENGTH.unpack(view[len(MAGIC) : start])
    _expect(length <= min(_MAX_HEADER_BYTES, len(view) - start), "the header is cut short")
    try:
        header = json.loads(bytes(view[start : start + length]))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CodecError(f"the header is not JSON: {error}") from error
    _expect(isinstance(header, dict), "the header is not an object")
    output_text = header.get("output_text")
    _expect(output_text is None or isinstance(output_text, str), "output_text is not a string")
    try:
        lists = {which: _read_token_list(header.get(which)) for which in TOKEN_LISTS}
        blocks, offset = _read_arrays(header.get("blocks"), view, start + length, rank=3)
        norms_described = header.get("value_norms")
        norms: dict[BlockName, np.ndarray] | None = None
        if norms_described is not None:
            norms, offset = _read_arrays(norms_described, view, offset, rank=2)
        _expect(offset == len(view), "there are bytes after the last array")
        return AttentionRun(blocks, value_norms=norms, output_text=output_text, **lists)
    except CodecError:
        raise
    except ValueError as error:  # a block name, a token list or a shape the run refuses
        raise CodecError(str(error)) from error
