"""Luong (global) attention translator with three score functions.

The decoder GRU first computes its current state h_t from the previous target word;
h_t then queries the encoder states h_s (keys and values) with one of

    dot:      score(h_t, h_s) = h_t^T h_s / sqrt(d)
    general:  score(h_t, h_s) = h_t^T W_a h_s / sqrt(d)       (bilinear)
    concat:   score(h_t, h_s) = v_a^T tanh(W_a [h_t; h_s])    (one-layer MLP)

(the 1/sqrt(d) scaling, as in the Transformer, is our addition: unscaled products of
512-wide states saturate the softmax from the first step, and the attention then locks
onto the sentence-final states instead of learning an alignment), and the context c_t is
combined with h_t into the attentional state
tanh(W_c [c_t; h_t]) that predicts the next word (Luong et al., 2015). Without input
feeding the decoder GRU does not depend on the attention, so a teacher-forced pass runs
the GRU over the whole target at once and scores all steps in parallel.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from app.attention.names import cross_attention
from app.attention.softmax import masked_softmax
from app.seq2seq.base import AttentionBlocks, DecoderState, Seq2SeqModel
from app.seq2seq.gru_encoder import BiGRUEncoder
from app.seq2seq.spec import FamilySpec, Variants

SCORES = ("dot", "general", "concat")
DEFAULT_SCORE = "general"


@dataclass
class LuongConfig:
    source_vocab_size: int = 0  # set from the training data
    target_vocab_size: int = 0  # set from the training data
    score: str = DEFAULT_SCORE  # "dot", "general" or "concat"
    embed_dim: int = 256  # token embeddings in both languages; also the attentional state
    encoder_hidden: int = 256  # per direction; the decoder state has 2 * encoder_hidden so
    # that "dot" can compare it with an encoder state directly
    decoder_layers: int = 1  # stacked GRU layers; the top one is the query
    attention_dim: int = 256  # hidden units of the "concat" scoring network
    dropout: float = 0.3  # on embeddings, encoder states and the attentional state
    lexical_shortcut: bool = False  # add the attention-weighted source embeddings to the
    # attentional state (Nguyen and Chiang, 2018); see bahdanau.py
    max_source_len: int = 128  # source tokens including </s>
    max_target_len: int = 128  # target tokens including </s>


class LuongAttention(nn.Module):
    """score(h_t, h_s) by the configured function, masked softmax, weighted sum."""

    def __init__(self, score: str, dim: int, attention_dim: int) -> None:
        super().__init__()
        if score not in SCORES:
            raise ValueError(f"unknown Luong score {score!r}; choose one of {SCORES}")
        self.score = score
        if score == "general":
            self.W_a = nn.Linear(dim, dim, bias=False)
        elif score == "concat":
            self.W_a = nn.Linear(2 * dim, attention_dim, bias=False)
            self.v_a = nn.Linear(attention_dim, 1, bias=False)

    def scores(self, queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        """queries (B, T, D), keys (B, S, D) -> scores (B, T, S)."""
        scale = queries.size(-1) ** -0.5
        if self.score == "dot":
            return queries @ keys.transpose(1, 2) * scale
        if self.score == "general":
            return queries @ self.W_a(keys).transpose(1, 2) * scale
        # W_a [h_t; h_s] = W_query h_t + W_key h_s: project each side once, then broadcast
        W_query, W_key = self.W_a.weight.split(queries.size(-1), dim=1)  # (A, D) each
        features = torch.tanh(
            (queries @ W_query.t()).unsqueeze(2) + (keys @ W_key.t()).unsqueeze(1)
        )  # (B, T, S, A)
        return self.v_a(features).squeeze(-1)

    def forward(
        self, queries: torch.Tensor, memory: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """queries (B, T, D), memory (B, S, D), mask (B, S) -> context (B, T, D), weights
        (B, T, S)."""
        padding = ~mask.unsqueeze(1)  # (B, 1, S)
        weights = masked_softmax(self.scores(queries, memory), hidden=padding)  # (B, T, S)
        return weights @ memory, weights


class LuongDecoder(nn.Module):
    def __init__(self, config: LuongConfig) -> None:
        super().__init__()
        dim = 2 * config.encoder_hidden
        self.embed = nn.Embedding(config.target_vocab_size, config.embed_dim, padding_idx=0)
        self.init_hidden = nn.Linear(dim, config.decoder_layers * dim)
        self.rnn = nn.GRU(config.embed_dim, dim, num_layers=config.decoder_layers, batch_first=True)
        self.attention = LuongAttention(config.score, dim, config.attention_dim)
        self.W_c = nn.Linear(2 * dim, config.embed_dim)
        self.lexical = (
            nn.Linear(config.embed_dim, config.embed_dim) if config.lexical_shortcut else None
        )
        self.output_bias = nn.Parameter(torch.zeros(config.target_vocab_size))
        self.dropout = nn.Dropout(config.dropout)
        # the embedding doubles as the output layer: small weights keep the first logits
        # near uniform (the default N(0, 1) would start the loss far above log V)
        nn.init.normal_(self.embed.weight, std=config.embed_dim**-0.5)
        nn.init.zeros_(self.embed.weight[0])

    def forward(
        self,
        target_in: torch.Tensor,
        hidden: torch.Tensor,
        memory: torch.Tensor,
        source_embeddings: torch.Tensor,
        mask: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """target_in (B, T), hidden (B, L, D), source_embeddings (B, S, E) -> logits
        (B, T, V), hidden, weights (B, T, S)."""
        embedded = self.dropout(self.embed(target_in))  # (B, T, E)
        states, final = self.rnn(embedded, hidden.transpose(0, 1).contiguous())  # (B, T, D)
        context, weights = self.attention(states, memory, mask)  # (B, T, D), (B, T, S)
        attentional = torch.tanh(self.W_c(torch.cat([context, states], dim=-1)))  # (B, T, E)
        if self.lexical is not None:
            looked_at = weights @ source_embeddings  # (B, T, E)
            attentional = attentional + torch.tanh(self.lexical(looked_at)) + looked_at
        logits = self.dropout(attentional) @ self.embed.weight.t() + self.output_bias
        return logits, final.transpose(0, 1), weights


class LuongTranslator(Seq2SeqModel):
    def __init__(self, config: LuongConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = BiGRUEncoder(
            config.source_vocab_size, config.embed_dim, config.encoder_hidden, config.dropout
        )
        self.decoder = LuongDecoder(config)

    def start(self, source: torch.Tensor, source_mask: torch.Tensor) -> DecoderState:
        memory, summary = self.encoder(source, source_mask)  # (B, S, D), (B, D)
        hidden = torch.tanh(self.decoder.init_hidden(summary))  # (B, L * D)
        layers = self.config.decoder_layers
        return {
            "memory": memory,
            "source_embeddings": self.encoder.dropout(self.encoder.embed(source)),  # (B, S, E)
            "source_mask": source_mask,
            "hidden": hidden.view(hidden.size(0), layers, -1),  # (B, L, D)
        }

    def step(
        self, state: DecoderState, target_in: torch.Tensor
    ) -> tuple[torch.Tensor, DecoderState]:
        logits, hidden, _ = self.decoder(
            target_in[:, -1:],
            state["hidden"],
            state["memory"],
            state["source_embeddings"],
            state["source_mask"],
        )
        return logits[:, -1], {**state, "hidden": hidden}

    def forward(
        self, source: torch.Tensor, source_mask: torch.Tensor, target_in: torch.Tensor
    ) -> tuple[torch.Tensor, AttentionBlocks]:
        state = self.start(source, source_mask)
        logits, _, weights = self.decoder(
            target_in, state["hidden"], state["memory"], state["source_embeddings"], source_mask
        )
        return logits, {cross_attention(0): weights.unsqueeze(1)}  # (B, 1, T, S)


# One checkpoint per score function, each in its own folder: the page compares them on one
# sentence.
FAMILY = FamilySpec("luong", LuongConfig, LuongTranslator, Variants("score", SCORES, DEFAULT_SCORE))
