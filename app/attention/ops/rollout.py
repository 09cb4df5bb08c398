"""Attention rollout (Abnar & Zuidema, 2020): what each position drew on through all the
layers so far, not through one layer alone.

Per layer, the head mean Ā_l; the residual connection carries each position's own state
forward, so Â_l = 0.5·Ā_l + 0.5·I, rows renormalized; the rollout to layer L is
R_L = Â_L · … · Â_0. It treats the residual as exactly half and ignores the feed-forward
layers and the value vectors: a rough picture of the flow, not a proof of influence.
"""

from collections.abc import Iterable, Iterator
from dataclasses import replace

import numpy as np

from app.attention.errors import InputError
from app.attention.ops.rows import normalize_rows
from app.attention.view import View, ViewBlock

ENCODER_DECODER_REFUSAL = (
    "rollout composes one stack's self-attention layer by layer; in an encoder-decoder the "
    "decoder also reads the source through cross-attention, which rollout has no rule for. "
    "Use aggregate 'heads' (or 'none') with this model."
)


def _rolled(blocks: Iterable[ViewBlock]) -> Iterator[ViewBlock]:
    composed: np.ndarray | None = None
    stack = None
    for layer, block in enumerate(blocks):  # contract order: layer by layer
        if block.name.kind != "self_attn" or stack not in (None, block.name.stack):
            raise InputError(ENCODER_DECODER_REFUSAL)
        stack = block.name.stack
        if block.name.layer != layer:
            raise ValueError(f"rollout needs every layer from 0; layer {layer} is missing")
        size = block.data.shape[1]
        identity = np.eye(size, dtype=np.float32)
        mixed, _ = normalize_rows(0.5 * block.data.mean(axis=0) + 0.5 * identity)  # (S, S)
        composed = mixed if composed is None else mixed @ composed
        yield replace(block, data=composed[None], row_totals=None)  # (1, S, S)


def rollout(view: View) -> View:
    """Each self-attention block becomes the rollout through layers 0..its own, [1, S, S].

    `view` must hold every layer from 0 up, of one stack, each block square with the same
    labels on both axes; only the running product is kept between layers.
    """
    return replace(view, blocks=_rolled(view.blocks))
