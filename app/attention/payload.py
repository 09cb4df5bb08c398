"""Turns a run into the /attention response body: analyse, pool, encode, serialize."""

from dataclasses import asdict
from typing import Any

import numpy as np
import orjson

from app.attention.analysis import Options, analyse
from app.attention.names import TOKEN_LISTS
from app.attention.ops.encode import Encoding, encode, totals_encoding
from app.attention.ops.pool import pool_rows_to, pool_to
from app.attention.run import AttentionRun
from app.attention.view import View, ViewBlock


def block_payload(
    block: ViewBlock, encoding: Encoding, max_size: int | None, explainable: bool
) -> dict[str, Any]:
    full_shape = list(block.data.shape)
    pooled = block.data if max_size is None else pool_to(block.data, max_size)
    data = np.ascontiguousarray(pooled, dtype=np.float32)
    axes = block.name.axes
    payload: dict[str, Any] = {
        "name": str(block.name),
        "stack": block.name.stack,
        "layer": block.name.layer,
        "kind": block.name.kind,
        "label": axes.label,
        "rows": axes.rows,
        "cols": axes.cols,
        "heads": block.heads,
        "shape": list(data.shape),
        "encoding": encoding,
        "data": encode(data, encoding),
        "explainable": explainable and block.name.kind == "self_attn",
        # One text's tokens read against another's: POST /align reads its links from these.
        "aligns": block.name.kind == "cross_attn",
    }
    if list(data.shape) != full_shape:
        payload["pooled_from"] = full_shape
    if block.row_totals is not None:
        totals = block.row_totals if max_size is None else pool_rows_to(block.row_totals, max_size)
        totals = np.ascontiguousarray(totals, dtype=np.float32)
        payload["row_totals"] = encode(totals, totals_encoding(encoding))
    return payload


def _tokens(view: View, field: str) -> dict[str, list[Any]]:
    def value(label: Any) -> Any:
        return list(label.positions) if field == "positions" else getattr(label, field)

    return {which: [value(label) for label in view.labels[which]] for which in TOKEN_LISTS}


def unknown_tokens(run: AttentionRun) -> dict[str, list[list[Any]]] | None:
    """For each token list, [position, the text as typed] of every token the model read as
    unknown (<unk>, [UNK]); None when it knew them all. Positions are token level."""
    found = {
        which: [
            [position, token.typed]
            for position, token in enumerate(run.tokens(which).tokens)
            if token.typed is not None
        ]
        for which in TOKEN_LISTS
    }
    return {which: tokens for which, tokens in found.items() if tokens} or None


def render_attention(
    model_id: str,
    variant: str | None,
    run: AttentionRun,
    *,
    options: Options,
    layers: list[int] | None,
    heads: list[int] | None,
    encoding: Encoding,
    max_size: int | None,
    explainable: bool = False,
    max_new_tokens: int | None = None,
) -> bytes:
    """The response body. `explainable`: the model offers POST /explain, which opens its
    self-attention heads step by step on the raw token-level weights. `max_new_tokens`: the
    budget the model wrote with, when it wrote (the request's, or less where the model's token
    limit left less room)."""
    view = analyse(run, options, layers, heads)
    step_by_step = explainable and options == Options()
    payload = {
        "model": model_id,
        "variant": variant,
        "options": asdict(options),
        "tokens": _tokens(view, "text"),
        "special": _tokens(view, "special"),
        # Which tokens of the token-level run stand behind each label, once labels are words
        # or special tokens are gone: any client can check or redo the merge.
        "token_groups": _tokens(view, "positions") if options.regroups_tokens else None,
        "unknown": unknown_tokens(run),
        "output_text": run.output_text,
        "max_new_tokens": max_new_tokens,
        "blocks": [block_payload(b, encoding, max_size, step_by_step) for b in view.blocks],
    }
    # orjson writes float32 arrays directly, an order of magnitude faster than json + tolist().
    return orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY)
