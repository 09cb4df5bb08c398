"""Turns a run and its selected blocks into the /attention response body."""

from typing import Any

import numpy as np
import orjson

from app.attention.blocks import Block
from app.zoo.base import AttentionRun


def block_payload(block: Block) -> dict[str, Any]:
    data = block.data.contiguous().numpy().astype(np.float32, copy=False)
    return {
        "name": block.name,
        "stack": block.stack,
        "layer": block.layer,
        "kind": block.kind,
        "heads": block.heads,
        "shape": list(data.shape),
        "data": data,
    }


def attention_payload(
    model_id: str, variant: str | None, run: AttentionRun, blocks: list[Block]
) -> dict[str, Any]:
    return {
        "model": model_id,
        "variant": variant,
        "tokens": {
            "source": run.source_tokens,
            "target": run.target_tokens,
            "target_input": run.target_input_tokens,
        },
        "output_text": run.output_text,
        "blocks": [block_payload(b) for b in blocks],
    }


def to_json(payload: dict[str, Any]) -> bytes:
    # orjson writes float32 arrays directly, an order of magnitude faster than json + tolist().
    return orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY)
