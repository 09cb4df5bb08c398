"""Packed encoder runs: several texts in one forward pass with no padding, stopped as soon as
the last layer's attention weights exist.

A padded batch runs every projection and feed-forward layer over its padding too: 16 texts of
20-30 tokens padded to 30 spend about a sixth of the work on pad tokens. Packed, the texts'
tokens follow each other in one row of T tokens, with positions that start again at 0 for
each text, so every per-token layer (projections, feed-forward, norms) sees only real
tokens. Only attention mixes tokens, and it is the one place that needs the texts apart.

Hugging Face models call their attention through a registry (`AttentionInterface`):
`register` adds PACKED_ATTENTION there. Outside a `reading_packed` block it is the model's own
eager attention, unchanged (with eager's padding masks). Inside one, it cuts the row back
into the texts, computes each text's attention exactly as eager does (scores, softmax, the
weighted sum) against its own keys only, puts the outputs back into the row, and keeps the
weights. When the last layer's weights are kept, nothing after them can change any of them
(that layer's output projection and feed-forward layer, a pooler, a head): the run stops there.

An encoder turns this on only for a model that calls its attention through the registry and
whose packed weights match its ordinary run at start-up (app/zoo/fast_path.py).
"""

import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
from transformers import AttentionInterface, AttentionMaskInterface
from transformers.integrations.sdpa_attention import repeat_kv
from transformers.masking_utils import eager_mask

PACKED_ATTENTION = "packed_eager"


class _ReadEnough(Exception):
    """The last layer's attention weights are kept: the rest of the forward pass is not needed."""


@dataclass
class _Packing:
    layers: int
    positions: torch.Tensor  # (texts, longest): each text's token positions in the row; pads 0
    pads: torch.Tensor  # (texts, 1, 1, longest): 0 for a real key, the dtype's minimum for a pad
    keep: torch.Tensor  # (texts, longest): True for a real token
    alone: bool  # one text: the row is that text, nothing to cut
    weights: list[torch.Tensor] = field(default_factory=list)  # per layer (texts, H, L, L)


_local = threading.local()


def _own_eager(module: Any) -> Callable[..., tuple[torch.Tensor, torch.Tensor]]:
    """The eager attention of the model `module` belongs to, from its modeling module (each
    Hugging Face model family defines its own `eager_attention_forward`)."""
    eager = getattr(sys.modules[type(module).__module__], "eager_attention_forward", None)
    if eager is None:
        raise RuntimeError(f"{type(module).__name__}: no eager_attention_forward beside it")
    return eager


def _packed_attention(
    module: Any,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float | None = None,
    dropout: float = 0.0,
    **kwargs: Any,
) -> tuple[torch.Tensor, torch.Tensor]:
    packing: _Packing | None = getattr(_local, "packing", None)
    if packing is None:
        return _own_eager(module)(
            module, query, key, value, attention_mask, scaling=scaling, dropout=dropout, **kwargs
        )
    if scaling is None:
        scaling = query.size(-1) ** -0.5
    groups = query.shape[1] // key.shape[1]  # grouped-query attention: shared key/value heads
    key, value = repeat_kv(key, groups), repeat_kv(value, groups)

    def apart(states: torch.Tensor) -> torch.Tensor:
        """(1, H, T, d) -> (texts, H, L, d): each text's tokens, padded at the end."""
        return states if packing.alone else states[0][:, packing.positions].transpose(0, 1)

    # As eager attention, text by text: scores, the mask of the padding, softmax, the sum.
    scores = torch.matmul(apart(query), apart(key).transpose(2, 3)) * scaling
    weights = torch.nn.functional.softmax(
        scores if packing.alone else scores + packing.pads, dim=-1
    )
    output = torch.matmul(weights, apart(value)).transpose(1, 2)  # (texts, L, H, d)
    # Back into the row, as eager returns its output: (1, T, H, d).
    packed = output if packing.alone else output[packing.keep].unsqueeze(0)
    packing.weights.append(weights)
    if len(packing.weights) == packing.layers:
        raise _ReadEnough
    return packed.contiguous(), weights


def register() -> None:
    """Offer PACKED_ATTENTION in transformers' registries (again: no change). Called when an
    encoder turns its fast path on (app/zoo/fast_path.py), never on import: a process that
    only imports this module leaves transformers as it found it."""
    AttentionInterface.register(PACKED_ATTENTION, _packed_attention)
    # Outside a packed run the model builds eager's padding masks, as with "eager" itself.
    AttentionMaskInterface.register(PACKED_ATTENTION, eager_mask)


@dataclass(frozen=True)
class PackedRow:
    """The model inputs of texts packed into one row, and where each text lies in it."""

    input_ids: torch.Tensor  # (1, T)
    position_ids: torch.Tensor  # (1, T)
    token_type_ids: torch.Tensor  # (1, T), zeros
    starts: list[int]
    lengths: list[int]


def pack(sequences: Sequence[Sequence[int]]) -> PackedRow:
    lengths = [len(ids) for ids in sequences]
    starts = [sum(lengths[:i]) for i in range(len(lengths))]
    flat = [token for ids in sequences for token in ids]
    positions = [p for n in lengths for p in range(n)]
    return PackedRow(
        input_ids=torch.tensor([flat]),
        position_ids=torch.tensor([positions]),
        token_type_ids=torch.zeros(1, len(flat), dtype=torch.long),
        starts=starts,
        lengths=lengths,
    )


@contextmanager
def reading_packed(row: PackedRow, layers: int) -> Iterator[list[torch.Tensor]]:
    """Run the model on `row` in the `with` body (on this thread), and get, per layer, the
    attention weights of every text (texts, heads, longest, longest): text b's own weights are
    [b, :, :n_b, :n_b] (its padded keys hold 0; its padded query rows mean nothing). The
    forward pass stops after layer `layers - 1`'s attention; the body's model call ends there
    without an error."""
    longest = max(row.lengths)
    positions = torch.zeros(len(row.lengths), longest, dtype=torch.long)
    keep = torch.zeros(len(row.lengths), longest, dtype=torch.bool)
    for b, (start, n) in enumerate(zip(row.starts, row.lengths, strict=True)):
        positions[b, :n] = torch.arange(start, start + n)
        keep[b, :n] = True
    pads = torch.zeros(keep.shape).masked_fill(~keep, torch.finfo(torch.float32).min)
    alone = len(row.lengths) == 1
    packing = _Packing(layers, positions, pads[:, None, None, :], keep, alone)
    # A packed run may start inside another model's run on this thread (short work run
    # from a long run's yield point, app/zoo/yielding.py): that run's packing comes back.
    outer = getattr(_local, "packing", None)
    _local.packing = packing
    try:
        yield packing.weights
    except _ReadEnough:
        pass
    finally:
        _local.packing = outer
    if len(packing.weights) != layers:
        raise RuntimeError(
            f"the model computed {len(packing.weights)} packed attention blocks for {layers} "
            "layers: it does not call its attention through the registry"
        )
