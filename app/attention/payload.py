"""Turns a run into the /attention response body: select, pool, encode, serialize."""

from typing import Any

import numpy as np
import orjson

from app.attention.blocks import Block, select_blocks
from app.attention.encodings import Encoding, encode
from app.attention.pooling import pool_to
from app.zoo.base import AttentionRun


def block_payload(block: Block, encoding: Encoding, max_size: int | None) -> dict[str, Any]:
    full_shape = list(block.data.shape)
    pooled = block.data if max_size is None else pool_to(block.data, max_size)
    data = np.ascontiguousarray(pooled, dtype=np.float32)
    payload: dict[str, Any] = {
        "name": block.name,
        "stack": block.stack,
        "layer": block.layer,
        "kind": block.kind,
        "heads": block.heads,
        "shape": list(data.shape),
        "encoding": encoding,
        "data": encode(data, encoding),
    }
    if list(data.shape) != full_shape:
        payload["pooled_from"] = full_shape
    return payload


def render_attention(
    model_id: str,
    variant: str | None,
    run: AttentionRun,
    *,
    layers: list[int] | None,
    heads: list[int] | None,
    encoding: Encoding,
    max_size: int | None,
) -> bytes:
    blocks = select_blocks(run.blocks, layers, heads)
    payload = {
        "model": model_id,
        "variant": variant,
        "tokens": {
            "source": run.source_tokens,
            "target": run.target_tokens,
            "target_input": run.target_input_tokens,
        },
        "output_text": run.output_text,
        "blocks": [block_payload(b, encoding, max_size) for b in blocks],
    }
    # orjson writes float32 arrays directly, an order of magnitude faster than json + tolist().
    return orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY)
