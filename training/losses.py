"""The training losses: the label-smoothed NLL of a batch, the guided-alignment loss of one
cross-attention head beside it, and the dev loss that selects checkpoints."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from app.attention.names import cross_attention
from app.seq2seq.base import Seq2SeqModel
from app.seq2seq.vocab import Vocab
from training.batches import Batch, iterate_batches
from training.encoding import Example
from training.guided import alignment_loss


def sequence_loss(
    model: Seq2SeqModel, batch: Batch, pad_id: int, label_smoothing: float
) -> torch.Tensor:
    return guided_loss(model, batch, pad_id, label_smoothing)[0]


def guided_loss(
    model: Seq2SeqModel,
    batch: Batch,
    pad_id: int,
    label_smoothing: float,
    prior: torch.Tensor | None = None,
    layer: int = 0,
    head: int = 0,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The NLL of the batch and, given a prior (B, T, S), the alignment loss of one
    cross-attention head (training.guided.alignment_loss)."""
    logits, blocks = model(batch.source, batch.source_mask, batch.target_in)  # (B, T, V)
    nll = F.cross_entropy(
        logits.reshape(-1, logits.size(-1)),
        batch.target_out.reshape(-1),
        ignore_index=pad_id,
        label_smoothing=label_smoothing,
    )
    if prior is None:
        return nll, None
    attention = blocks[cross_attention(layer)][:, head]  # (B, T, S)
    return nll, alignment_loss(attention, prior)


def dev_loss(
    model: Seq2SeqModel, examples: list[Example], source: Vocab, target: Vocab, tokens: int
) -> float:
    """Mean per-token negative log-likelihood (no smoothing) on the dev set."""
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for batch in iterate_batches(examples, source, target, tokens):
            n = batch.target_tokens
            total += float(sequence_loss(model, batch, target.pad_id, 0.0)) * n
            count += n
    model.train()
    return total / max(1, count)
