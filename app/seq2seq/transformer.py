"""A small Transformer encoder-decoder (Vaswani et al., 2017) with its own attention.

Pre-layer-norm blocks, sinusoidal positions, and the decoder's input embedding tied to
its output projection. Every attention layer returns its weights, so one forward pass
yields encoder self-attention, decoder masked self-attention and cross-attention for
every layer and head.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from app.attention.names import cross_attention, decoder_self_attention, encoder_self_attention
from app.attention.softmax import masked_softmax
from app.seq2seq.base import AttentionBlocks, DecoderState, Seq2SeqModel
from app.seq2seq.spec import FamilySpec


@dataclass
class TransformerConfig:
    source_vocab_size: int = 0  # set from the training data
    target_vocab_size: int = 0  # set from the training data
    d_model: int = 256  # width of every token representation
    heads: int = 4  # attention heads per layer; head size is d_model // heads
    encoder_layers: int = 3
    decoder_layers: int = 3
    d_ff: int = 1024  # hidden width of the position-wise feed-forward network
    dropout: float = 0.15  # on embeddings, sublayer outputs and attention weights
    max_source_len: int = 128  # source tokens including </s>
    max_target_len: int = 128  # target tokens including </s>


def sinusoidal_positions(length: int, dim: int) -> torch.Tensor:
    """PE[pos, 2i] = sin(pos / 10000^(2i/dim)), PE[pos, 2i+1] = cos(...): (length, dim)."""
    position = torch.arange(length, dtype=torch.float32).unsqueeze(1)  # (L, 1)
    frequency = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(1e4) / dim))
    table = torch.zeros(length, dim)
    table[:, 0::2] = torch.sin(position * frequency)
    table[:, 1::2] = torch.cos(position * frequency)
    return table


def scaled_dot_product_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """softmax(Q K^T / sqrt(d)) V over the keys allowed by `mask` (broadcast to scores)."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))  # (B, H, Tq, Tk)
    weights = masked_softmax(scores, hidden=~mask)  # (B, H, Tq, Tk)
    return weights @ v, weights  # (B, H, Tq, hs)


class MultiHeadAttention(nn.Module):
    def __init__(self, d_model: int, heads: int, dropout: float) -> None:
        super().__init__()
        if d_model % heads:
            raise ValueError(f"d_model {d_model} is not divisible by {heads} heads")
        self.heads = heads
        self.W_q = nn.Linear(d_model, d_model)
        self.W_k = nn.Linear(d_model, d_model)
        self.W_v = nn.Linear(d_model, d_model)
        self.W_o = nn.Linear(d_model, d_model)
        self.dropout = nn.Dropout(dropout)

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, d_model = x.shape
        return x.view(batch, length, self.heads, d_model // self.heads).transpose(1, 2)

    def project_keys(self, keys: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-head keys and values of (B, Tk, D) inputs: two (B, H, Tk, hs) tensors."""
        return self.split_heads(self.W_k(keys)), self.split_heads(self.W_v(keys))

    def attend(
        self, queries: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """queries (B, Tq, D) against projected k, v (B, H, Tk, hs); mask broadcasts to
        (B, H, Tq, Tk). Returns (B, Tq, D) and the weights (B, H, Tq, Tk)."""
        q = self.split_heads(self.W_q(queries))  # (B, H, Tq, hs)
        _, weights = scaled_dot_product_attention(q, k, v, mask)  # (B, H, Tq, Tk)
        mixed = self.dropout(weights) @ v  # (B, H, Tq, hs)
        batch, heads, length, size = mixed.shape
        mixed = mixed.transpose(1, 2).reshape(batch, length, heads * size)  # (B, Tq, D)
        return self.W_o(mixed), weights

    def forward(
        self, queries: torch.Tensor, keys: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """queries (B, Tq, D) attend to keys (B, Tk, D), which are also the values."""
        return self.attend(queries, *self.project_keys(keys), mask)


class FeedForward(nn.Module):
    def __init__(self, d_model: int, d_ff: int, dropout: float) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(d_model, d_ff), nn.ReLU(), nn.Dropout(dropout), nn.Linear(d_ff, d_model)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)  # (B, T, D)


class EncoderLayer(nn.Module):
    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.norm_attn = nn.LayerNorm(config.d_model)
        self.self_attn = MultiHeadAttention(config.d_model, config.heads, config.dropout)
        self.norm_ff = nn.LayerNorm(config.d_model)
        self.feed_forward = FeedForward(config.d_model, config.d_ff, config.dropout)
        self.dropout = nn.Dropout(config.dropout)

    def forward(
        self, x: torch.Tensor, source_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        normed = self.norm_attn(x)  # (B, S, D)
        attended, weights = self.self_attn(normed, normed, source_mask)  # (B, S, D)
        x = x + self.dropout(attended)
        x = x + self.dropout(self.feed_forward(self.norm_ff(x)))  # (B, S, D)
        return x, weights


class DecoderLayer(nn.Module):
    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.norm_self = nn.LayerNorm(config.d_model)
        self.self_attn = MultiHeadAttention(config.d_model, config.heads, config.dropout)
        self.norm_cross = nn.LayerNorm(config.d_model)
        self.cross_attn = MultiHeadAttention(config.d_model, config.heads, config.dropout)
        self.norm_ff = nn.LayerNorm(config.d_model)
        self.feed_forward = FeedForward(config.d_model, config.d_ff, config.dropout)
        self.dropout = nn.Dropout(config.dropout)

    def forward(
        self,
        y: torch.Tensor,
        memory: torch.Tensor,
        causal_mask: torch.Tensor,
        source_mask: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        normed = self.norm_self(y)  # (B, T, D)
        attended, self_weights = self.self_attn(normed, normed, causal_mask)  # (B, T, D)
        y = y + self.dropout(attended)
        attended, cross_weights = self.cross_attn(self.norm_cross(y), memory, source_mask)
        y = y + self.dropout(attended)  # (B, T, D)
        y = y + self.dropout(self.feed_forward(self.norm_ff(y)))
        return y, self_weights, cross_weights

    def step(
        self, y: torch.Tensor, cache: DecoderState, layer: int, source_mask: torch.Tensor
    ) -> tuple[torch.Tensor, DecoderState]:
        """One new position y (B, 1, D), attending to the cached keys and values of the
        earlier positions (self-attention) and of the source (cross-attention)."""
        normed = self.norm_self(y)  # (B, 1, D)
        k, v = self.self_attn.project_keys(normed)  # (B, H, 1, hs)
        k = torch.cat([cache[f"self_k.{layer}"], k], dim=2)  # (B, H, t, hs)
        v = torch.cat([cache[f"self_v.{layer}"], v], dim=2)
        everything = torch.ones(1, 1, 1, k.size(2), dtype=torch.bool)  # causal: all earlier
        attended, _ = self.self_attn.attend(normed, k, v, everything)
        y = y + attended
        attended, _ = self.cross_attn.attend(
            self.norm_cross(y), cache[f"cross_k.{layer}"], cache[f"cross_v.{layer}"], source_mask
        )
        y = y + attended  # (B, 1, D)
        y = y + self.feed_forward(self.norm_ff(y))
        return y, {f"self_k.{layer}": k, f"self_v.{layer}": v}


class Transformer(Seq2SeqModel):
    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.config = config
        d = config.d_model
        self.source_embed = nn.Embedding(config.source_vocab_size, d, padding_idx=0)
        self.target_embed = nn.Embedding(config.target_vocab_size, d, padding_idx=0)
        longest = max(config.max_source_len, config.max_target_len)
        self.positions: torch.Tensor
        self.register_buffer("positions", sinusoidal_positions(longest, d), persistent=False)
        self.encoder_layers = nn.ModuleList(
            EncoderLayer(config) for _ in range(config.encoder_layers)
        )
        self.decoder_layers: Sequence[DecoderLayer] = nn.ModuleList(  # type: ignore[assignment]
            DecoderLayer(config) for _ in range(config.decoder_layers)
        )
        self.encoder_norm = nn.LayerNorm(d)
        self.decoder_norm = nn.LayerNorm(d)
        self.output_bias = nn.Parameter(torch.zeros(config.target_vocab_size))
        self.dropout = nn.Dropout(config.dropout)
        for embedding in (self.source_embed, self.target_embed):
            nn.init.normal_(embedding.weight, std=d**-0.5)
            nn.init.zeros_(embedding.weight[0])

    def embed(self, table: nn.Embedding, ids: torch.Tensor, offset: int = 0) -> torch.Tensor:
        positions = self.positions[offset : offset + ids.size(1)]  # (T, D)
        return self.dropout(table(ids) * math.sqrt(self.config.d_model) + positions)

    def project(self, y: torch.Tensor) -> torch.Tensor:
        """Final decoder states (..., D) to logits (..., V) through the tied embedding."""
        return self.decoder_norm(y) @ self.target_embed.weight.t() + self.output_bias

    def encode(
        self, source: torch.Tensor, source_mask: torch.Tensor
    ) -> tuple[torch.Tensor, AttentionBlocks]:
        key_mask = source_mask[:, None, None, :]  # (B, 1, 1, S)
        x = self.embed(self.source_embed, source)  # (B, S, D)
        blocks: AttentionBlocks = {}
        for i, layer in enumerate(self.encoder_layers):
            x, blocks[encoder_self_attention(i)] = layer(x, key_mask)
        return self.encoder_norm(x), blocks

    def decode(
        self, memory: torch.Tensor, source_mask: torch.Tensor, target_in: torch.Tensor
    ) -> tuple[torch.Tensor, AttentionBlocks]:
        length = target_in.size(1)
        causal = torch.ones(length, length, dtype=torch.bool, device=target_in.device).tril()
        key_mask = source_mask[:, None, None, :]  # (B, 1, 1, S)
        y = self.embed(self.target_embed, target_in)  # (B, T, D)
        blocks: AttentionBlocks = {}
        for i, layer in enumerate(self.decoder_layers):
            y, self_weights, cross_weights = layer(y, memory, causal, key_mask)
            blocks[decoder_self_attention(i)] = self_weights  # (B, H, T, T)
            blocks[cross_attention(i)] = cross_weights  # (B, H, T, S)
        return self.project(y), blocks  # (B, T, V)

    def forward(
        self, source: torch.Tensor, source_mask: torch.Tensor, target_in: torch.Tensor
    ) -> tuple[torch.Tensor, AttentionBlocks]:
        memory, blocks = self.encode(source, source_mask)
        logits, decoder_blocks = self.decode(memory, source_mask, target_in)
        return logits, {**blocks, **decoder_blocks}

    def start(self, source: torch.Tensor, source_mask: torch.Tensor) -> DecoderState:
        """Encode once and cache every decoder layer's keys and values of the source; the
        self-attention caches start empty and grow by one position per step."""
        memory, _ = self.encode(source, source_mask)
        state = {"source_mask": source_mask[:, None, None, :]}  # (B, 1, 1, S)
        batch, heads = source.size(0), self.config.heads
        empty = memory.new_zeros(batch, heads, 0, self.config.d_model // heads)
        for i, layer in enumerate(self.decoder_layers):
            state[f"cross_k.{i}"], state[f"cross_v.{i}"] = layer.cross_attn.project_keys(memory)
            state[f"self_k.{i}"] = state[f"self_v.{i}"] = empty  # (B, H, 0, hs)
        return state

    def step(
        self, state: DecoderState, target_in: torch.Tensor
    ) -> tuple[torch.Tensor, DecoderState]:
        position = target_in.size(1) - 1
        y = self.embed(self.target_embed, target_in[:, -1:], offset=position)  # (B, 1, D)
        state = dict(state)
        for i, layer in enumerate(self.decoder_layers):
            y, cache = layer.step(y, state, i, state["source_mask"])
            state.update(cache)
        return self.project(y[:, -1]), state  # (B, V)


def attention_layout(config: TransformerConfig) -> tuple[int, int]:
    """(layers, heads) of its blocks: the deeper stack sets the layer count."""
    return max(config.encoder_layers, config.decoder_layers), config.heads


FAMILY = FamilySpec("transformer", TransformerConfig, Transformer, layout=attention_layout)
