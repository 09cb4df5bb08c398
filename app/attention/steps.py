"""Self-attention step by step for one head and one query, from the head's real tensors.

The projections (q, K, V) and the model's own weights and output come from the model; the
steps between them are the textbook formula, and `checks` says how closely the formula
reproduces what the model computed.
"""

from dataclasses import dataclass
from typing import Any

import torch

from app.attention.softmax import masked_softmax


@dataclass
class HeadInternals:
    """The real tensors of one attention head for one query, read from the model by hooks."""

    tokens: list[str]  # the query positions' tokens
    key_tokens: list[str]  # the key positions' tokens
    query_index: int
    query: torch.Tensor  # (d_k,) the query vector, after the model's W_Q projection
    keys: torch.Tensor  # (n, d_k) after W_K
    values: torch.Tensor  # (n, d_k) after W_V
    scaling: float  # the factor the model multiplies q.k by: 1/sqrt(d_k)
    model_weights: torch.Tensor  # (n,) the model's own attention row for this query
    model_output: torch.Tensor  # (d_k,) the model's own output of this head for this query
    # Keys the model masks out (a causal decoder's future): they get exactly zero weight.
    masked: torch.Tensor | None = None  # (n,) bool


def _floats(values: torch.Tensor) -> list[Any]:
    return list(values.double().tolist())


def explain_payload(
    model_id: str, stack: str, layer: int, head: int, internals: HeadInternals
) -> dict[str, Any]:
    q, keys, values = internals.query, internals.keys, internals.values  # (d,), (n, d), (n, d)
    d_k = q.shape[0]
    scores = keys @ q  # (n,) q . k_j
    scaled = scores * internals.scaling  # (n,) q . k_j / sqrt(d_k)
    masked = internals.masked
    hidden = torch.zeros_like(scaled, dtype=torch.bool) if masked is None else masked  # (n,)
    weights = masked_softmax(scaled, hidden=hidden)  # (n,)
    output = weights @ values  # (d,) sum_j w_j v_j
    scaled_out: list[float | None] = _floats(scaled)
    if masked is not None:
        scaled_out = [None if m else s for s, m in zip(scaled_out, masked.tolist(), strict=True)]
    return {
        "model": model_id,
        "stack": stack,
        "layer": layer,
        "head": head,
        "tokens": internals.tokens,
        "key_tokens": internals.key_tokens,
        "query_index": internals.query_index,
        "query_token": internals.tokens[internals.query_index],
        "d_k": d_k,
        "scaling": internals.scaling,
        "query_vector": _floats(q),
        "keys": _floats(keys),
        "values": _floats(values),
        "scores": _floats(scores),
        "scaled_scores": scaled_out,
        "masked": [False] * len(scores) if masked is None else masked.tolist(),
        "weights": _floats(internals.model_weights),
        "output": _floats(internals.model_output),
        "checks": {
            "weights_max_abs_diff": float((weights - internals.model_weights).abs().max()),
            "output_max_abs_diff": float((output - internals.model_output).abs().max()),
        },
    }
