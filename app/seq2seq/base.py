"""What every translator model offers: a teacher-forced pass that returns its attention
blocks, and a step-by-step decoding interface that greedy and beam search drive."""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import nn

from app.attention.names import BlockName

# Everything a model needs to emit its next token; every tensor has the batch on dim 0,
# so a search can reorder or repeat hypotheses with index_select.
DecoderState = dict[str, torch.Tensor]
# Attention blocks by name (decoder.0.cross_attn), each (B, H, queries, keys).
AttentionBlocks = dict[BlockName, torch.Tensor]


class Seq2SeqModel(nn.Module, ABC):
    """An encoder-decoder translator over source and target token ids."""

    @abstractmethod
    def forward(
        self, source: torch.Tensor, source_mask: torch.Tensor, target_in: torch.Tensor
    ) -> tuple[torch.Tensor, AttentionBlocks]:
        """Teacher-forced pass.

        source (B, S) ids and source_mask (B, S), True at real tokens; target_in (B, T)
        starts with <s>. Returns next-token logits (B, T, V) and the attention blocks.
        """

    @abstractmethod
    def start(self, source: torch.Tensor, source_mask: torch.Tensor) -> DecoderState:
        """Encode the source once, ready for `step`."""

    @abstractmethod
    def step(
        self, state: DecoderState, target_in: torch.Tensor
    ) -> tuple[torch.Tensor, DecoderState]:
        """Logits (B, V) for the token after `target_in` (B, t), and the updated state."""


def reorder_state(state: DecoderState, index: torch.Tensor) -> DecoderState:
    return {name: tensor.index_select(0, index) for name, tensor in state.items()}
