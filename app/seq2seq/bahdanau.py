"""Bahdanau (additive) attention translator: bidirectional GRU encoder, GRU decoder.

At each decoding step the decoder's previous hidden state is the query, the encoder
states are both keys and values, and the score is a one-hidden-layer tanh network:

    a(q, k) = w_v^T tanh(W_q q + W_k k)

softmax-normalized over the real (unpadded) source positions. The context vector is
fed into the GRU together with the previous target word (Bahdanau et al., 2015).

The output layer also reads the attention-weighted source *embeddings* through a
lexical shortcut tanh(W_l l) + l (Nguyen and Chiang, 2018). Without it, the attention
may rest on any character whose contextual encoder state carries the information (吃
for "apples" in 我爱吃苹果); with it, looking at the character being translated pays off
directly, so the attention stays on that character.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from app.attention.names import cross_attention
from app.attention.softmax import masked_softmax
from app.seq2seq.base import AttentionBlocks, DecoderState, Seq2SeqModel
from app.seq2seq.gru_encoder import BiGRUEncoder
from app.seq2seq.spec import FamilySpec
from app.seq2seq.vocab import EOS_ID


@dataclass
class BahdanauConfig:
    source_vocab_size: int = 0  # set from the training data
    target_vocab_size: int = 0  # set from the training data
    embed_dim: int = 256  # token embeddings in both languages; also the output layer width
    encoder_hidden: int = 256  # per direction: keys and values have 2 * encoder_hidden
    decoder_hidden: int = 512  # the GRU decoder state, which is the attention query
    attention_dim: int = 256  # hidden units h of the additive scoring network
    dropout: float = 0.3  # on embeddings, encoder states and the output layer
    lexical_shortcut: bool = True  # feed attention-weighted source embeddings to the output
    lexical_gate: bool = False  # scale the shortcut by a gate computed from the decoder
    # state, so a step can use the attention without taking the character's identity
    attend_to_eos: bool = True  # whether the source's </s> is an attention key (the encoder
    # reads it either way); its state summarizes the sentence, which the decoder already
    # gets through its initial state, so without it the attention stays on characters
    max_source_len: int = 128  # source tokens including </s>
    max_target_len: int = 128  # target tokens including </s>


class AdditiveAttention(nn.Module):
    """a(q, k) = w_v^T tanh(W_q q + W_k k), no biases, masked softmax over keys."""

    def __init__(self, query_dim: int, key_dim: int, attention_dim: int) -> None:
        super().__init__()
        self.W_q = nn.Linear(query_dim, attention_dim, bias=False)
        self.W_k = nn.Linear(key_dim, attention_dim, bias=False)
        self.w_v = nn.Linear(attention_dim, 1, bias=False)

    def project_keys(self, keys: torch.Tensor) -> torch.Tensor:
        """W_k k for every key, computed once per sentence: (B, S, K) -> (B, S, A)."""
        return self.W_k(keys)

    def forward(
        self,
        query: torch.Tensor,
        projected_keys: torch.Tensor,
        values: torch.Tensor,
        mask: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        features = torch.tanh(self.W_q(query).unsqueeze(1) + projected_keys)  # (B, S, A)
        scores = self.w_v(features).squeeze(-1)  # (B, S)
        weights = masked_softmax(scores, hidden=~mask)  # (B, S)
        context = torch.bmm(weights.unsqueeze(1), values).squeeze(1)  # (B, K)
        return context, weights


class BahdanauDecoder(nn.Module):
    """One GRU step per target token: attend with the previous state, then update it."""

    def __init__(self, config: BahdanauConfig) -> None:
        super().__init__()
        memory_dim = 2 * config.encoder_hidden
        self.embed = nn.Embedding(config.target_vocab_size, config.embed_dim, padding_idx=0)
        self.init_hidden = nn.Linear(memory_dim, config.decoder_hidden)
        self.attention = AdditiveAttention(config.decoder_hidden, memory_dim, config.attention_dim)
        self.cell = nn.GRUCell(config.embed_dim + memory_dim, config.decoder_hidden)
        self.pre_output = nn.Linear(
            config.decoder_hidden + memory_dim + config.embed_dim, config.embed_dim
        )
        self.lexical = (
            nn.Linear(config.embed_dim, config.embed_dim) if config.lexical_shortcut else None
        )
        self.lexical_gate = (
            nn.Linear(config.decoder_hidden + memory_dim, 1)
            if config.lexical_shortcut and config.lexical_gate
            else None
        )
        self.output_bias = nn.Parameter(torch.zeros(config.target_vocab_size))
        self.dropout = nn.Dropout(config.dropout)
        # the embedding doubles as the output layer: small weights keep the first logits
        # near uniform (the default N(0, 1) would start the loss far above log V)
        nn.init.normal_(self.embed.weight, std=config.embed_dim**-0.5)
        nn.init.zeros_(self.embed.weight[0])

    def step(
        self,
        previous: torch.Tensor,
        hidden: torch.Tensor,
        memory: torch.Tensor,
        projected_keys: torch.Tensor,
        source_embeddings: torch.Tensor,
        mask: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """previous (B,) target ids, hidden (B, Hd), source_embeddings (B, S, E) -> logits
        (B, V), new hidden, weights (B, S)."""
        context, weights = self.attention(hidden, projected_keys, memory, mask)  # (B, 2He)
        embedded = self.dropout(self.embed(previous))  # (B, E)
        hidden = self.cell(torch.cat([embedded, context], dim=-1), hidden)  # (B, Hd)
        features = torch.tanh(self.pre_output(torch.cat([hidden, context, embedded], dim=-1)))
        if self.lexical is not None:
            looked_at = torch.bmm(weights.unsqueeze(1), source_embeddings).squeeze(1)  # (B, E)
            lexical = torch.tanh(self.lexical(looked_at)) + looked_at  # (B, E)
            if self.lexical_gate is not None:
                gate = torch.sigmoid(self.lexical_gate(torch.cat([hidden, context], dim=-1)))
                lexical = gate * lexical  # gate: (B, 1)
            features = features + lexical
        logits = self.dropout(features) @ self.embed.weight.t() + self.output_bias  # (B, V)
        return logits, hidden, weights


class BahdanauTranslator(Seq2SeqModel):
    def __init__(self, config: BahdanauConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = BiGRUEncoder(
            config.source_vocab_size, config.embed_dim, config.encoder_hidden, config.dropout
        )
        self.decoder = BahdanauDecoder(config)

    def start(self, source: torch.Tensor, source_mask: torch.Tensor) -> DecoderState:
        memory, summary = self.encoder(source, source_mask)  # (B, S, 2He), (B, 2He)
        keys = source_mask if self.config.attend_to_eos else source_mask & (source != EOS_ID)
        return {
            "memory": memory,
            "projected_keys": self.decoder.attention.project_keys(memory),  # (B, S, A)
            "source_embeddings": self.encoder.dropout(self.encoder.embed(source)),  # (B, S, E)
            "source_mask": keys,  # (B, S) the positions the attention may look at
            "hidden": torch.tanh(self.decoder.init_hidden(summary)),  # (B, Hd)
        }

    def step(
        self, state: DecoderState, target_in: torch.Tensor
    ) -> tuple[torch.Tensor, DecoderState]:
        logits, hidden, _ = self.decoder.step(
            target_in[:, -1],
            state["hidden"],
            state["memory"],
            state["projected_keys"],
            state["source_embeddings"],
            state["source_mask"],
        )
        return logits, {**state, "hidden": hidden}

    def forward(
        self, source: torch.Tensor, source_mask: torch.Tensor, target_in: torch.Tensor
    ) -> tuple[torch.Tensor, AttentionBlocks]:
        state = self.start(source, source_mask)
        hidden = state["hidden"]
        all_logits, all_weights = [], []
        for t in range(target_in.size(1)):
            logits, hidden, weights = self.decoder.step(
                target_in[:, t],
                hidden,
                state["memory"],
                state["projected_keys"],
                state["source_embeddings"],
                state["source_mask"],
            )
            all_logits.append(logits)
            all_weights.append(weights)
        cross = torch.stack(all_weights, dim=1).unsqueeze(1)  # (B, 1, T, S)
        return torch.stack(all_logits, dim=1), {cross_attention(0): cross}


FAMILY = FamilySpec("bahdanau", BahdanauConfig, BahdanauTranslator)
