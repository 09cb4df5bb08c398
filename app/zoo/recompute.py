"""A Llama layer's attention weights computed from that layer's input, with its own modules.

For long inputs the run keeps each layer's input hidden state (SmolLM2 at 2048 tokens:
30 × 2048 × 576 floats, 141 MB) instead of every attention matrix (4.5 GB), and computes
a layer's weights when they are read: the layer's input norm, its q and k projections, the
model's rotary embedding, grouped-query key sharing, scaled scores, causal mask, softmax.
These are the steps of transformers' eager Llama attention, with the model's own modules,
so the weights equal what eager attention returns (tests/zoo/test_recompute.py).
"""

from typing import Any

import numpy as np
import torch
from transformers.models.llama.modeling_llama import apply_rotary_pos_emb


class LlamaAttentionRecompute:
    """Attention weights of any layer and heads of a Llama-layout decoder."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.layers = model.model.layers
        self.rotary = model.model.rotary_emb

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
        k = k[:, [h // groups for h in chosen]]  # (1, h, T, d): each query head's key head
        scores = torch.matmul(q, k.transpose(2, 3)).mul_(attention.scaling)  # (1, h, T, T)
        future = torch.ones(length, length, dtype=torch.bool).triu_(1)
        scores.masked_fill_(future, float("-inf"))
        return torch.softmax(scores[0], dim=-1, dtype=torch.float32).numpy()
