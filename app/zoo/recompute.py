"""A Llama layer's attention weights computed from that layer's input, with its own modules.

For long inputs the run keeps each layer's input hidden state (SmolLM2 at 2048 tokens:
30 × 2048 × 576 floats, 141 MB) instead of every attention matrix (4.5 GB), and computes
a layer's weights when they are read: the layer's input norm, its q and k projections, the
model's rotary embedding, grouped-query key sharing, scaled scores, causal mask, softmax.
These are the steps of transformers' eager Llama attention, with the model's own modules,
so the weights equal what eager attention returns (tests/zoo/test_recompute.py).

The scores and softmax are computed a few heads at a time, with a yield point before each
group (app/zoo/yielding.py): reading every block of a 2048-token run is long work, and short
work waiting runs in its gaps. A group's scores are also all that is held beside the result.
"""

from typing import Any

import numpy as np
import torch
from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

from app.zoo.yielding import yield_point

# Heads whose scores are computed together: SmolLM2's query heads per key/value head. At
# 2048 tokens a group is about 1.6 GFLOP, a few tens of milliseconds.
HEADS_AT_ONCE = 3


class LlamaAttentionRecompute:
    """Attention weights of any layer and heads of a Llama-layout decoder."""

    def __init__(self, model: Any, model_id: str | None = None) -> None:
        self.model = model
        self.model_id = model_id  # named at the yield points
        self.layers = model.model.layers
        self.rotary = model.model.rotary_emb

    def flops(self, length: int, heads: int) -> float:
        """Operations of one `weights` call for `heads` heads over `length` tokens: the q and
        k projections, then each head's scores (see app/zoo/flops.py)."""
        attention = self.layers[0].self_attn
        width = attention.q_proj.in_features
        projected = heads * attention.head_dim + attention.k_proj.out_features
        return 2.0 * length * width * projected + 2.0 * heads * length**2 * attention.head_dim

    @torch.inference_mode()
    def weights(self, layer: int, hidden: torch.Tensor, heads: list[int] | None) -> np.ndarray:
        """float32 [len(heads), T, T] for layer `layer` whose input was `hidden` (1, T, D);
        every head when `heads` is None."""
        block = self.layers[layer]
        attention = block.self_attn
        size = attention.head_dim
        groups = attention.num_key_value_groups  # query heads per key/value head
        chosen = list(range(attention.q_proj.out_features // size)) if heads is None else heads
        x = block.input_layernorm(hidden)  # (1, T, D)
        length = x.shape[1]
        rows = torch.cat([torch.arange(h * size, (h + 1) * size) for h in chosen])
        bias = None if attention.q_proj.bias is None else attention.q_proj.bias[rows]
        q = torch.nn.functional.linear(x, attention.q_proj.weight[rows], bias)
        q = q.view(1, length, len(chosen), size).transpose(1, 2)  # (1, h, T, d)
        k = attention.k_proj(x).view(1, length, -1, size).transpose(1, 2)  # (1, kv, T, d)
        cos, sin = self.rotary(x, torch.arange(length).unsqueeze(0))
        q, k = apply_rotary_pos_emb(q, k, cos, sin)
        k = k[0, [h // groups for h in chosen]]  # (h, T, d): each query head's key head
        future = torch.ones(length, length, dtype=torch.bool).triu_(1)
        weights = np.empty((len(chosen), length, length), dtype=np.float32)
        # One scores buffer for every group, and the softmax written straight into the
        # result: at 2048 tokens this is faster than all heads at once with their copies.
        buffer = torch.empty(min(HEADS_AT_ONCE, len(chosen)), length, length)
        for start in range(0, len(chosen), HEADS_AT_ONCE):
            yield_point(self.model_id)
            group = slice(start, start + HEADS_AT_ONCE)
            scores = buffer[: len(chosen[group])]  # (g, T, T)
            torch.matmul(q[0, group], k[group].transpose(1, 2), out=scores)
            scores.mul_(attention.scaling).masked_fill_(future, float("-inf"))
            torch.softmax(scores, dim=-1, out=torch.from_numpy(weights[group]))
        return weights
