"""The bidirectional GRU encoder shared by the Bahdanau and Luong translators."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


class BiGRUEncoder(nn.Module):
    """Embeds source ids and runs a one-layer bidirectional GRU over them.

    Returns every position's state (the attention keys and values) and a summary of
    the sentence (the last forward state and the first backward state) that
    initializes the decoder.
    """

    def __init__(self, vocab_size: int, embed_dim: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.dropout = nn.Dropout(dropout)
        self.rnn = nn.GRU(embed_dim, hidden, batch_first=True, bidirectional=True)

    def forward(
        self, source: torch.Tensor, source_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        lengths = source_mask.sum(dim=1).cpu()  # (B,)
        x = self.dropout(self.embed(source))  # (B, S, E)
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        packed_out, final = self.rnn(packed)  # final: (2, B, He)
        states, _ = pad_packed_sequence(
            packed_out, batch_first=True, total_length=source.size(1)
        )  # (B, S, 2He)
        summary = torch.cat([final[0], final[1]], dim=-1)  # (B, 2He)
        return self.dropout(states), summary
