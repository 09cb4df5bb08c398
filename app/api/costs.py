"""What a piece of work for the inference gate will cost, estimated before it runs.

Costs are in GFLOP, from the model's sizes and the token counts (the formula is in
app/zoo/flops.py). The gate (app/api/inference.py) runs work of at most
ATTN_SHORT_RUN_GFLOP in the gaps of long runs, and bounds each client's queued work by the
sum of its costs. An estimate needs the token count the run service has already read from
the text; a model that does not give its sizes has no estimate (None), and its work is
scheduled as long.
"""

import math
from collections.abc import Hashable
from dataclasses import dataclass

from app.attention.run import AttentionRun, ComputedBlocks
from app.zoo.base import ModelAdapter
from app.zoo.flops import GIGA

# A target's tokens, before it is tokenized: English subword vocabularies average about four
# characters a token; three errs on the dear side.
CHARACTERS_PER_TARGET_TOKEN = 3


@dataclass(frozen=True)
class Cost:
    """The estimated work of one gate holder, and the model it runs (None: no model)."""

    gflop: float
    model: str | None
    # The part of `gflop` that texts batched into one pass pay once: reading the weights.
    per_pass_gflop: float = 0.0


def run_cost(
    adapter: ModelAdapter, reading: Hashable, target: str | None, new_tokens: int | None
) -> Cost | None:
    """One run of `adapter` (ModelAdapter.run or a text of run_batch) on a text it read as
    `reading`, with `target` given, or writing up to `new_tokens` when it generates."""
    shape, tokens = adapter.compute, adapter.tokens_in(reading)
    if shape is None or tokens is None:
        return None
    written = new_tokens or 0
    if target is not None:
        written = math.ceil(len(target) / CHARACTERS_PER_TARGET_TOKEN)
    if adapter.info.family == "encoder":
        return Cost(shape.forward(tokens) / GIGA, adapter.info.id, shape.weight_read / GIGA)
    else:
        # Writing (when it generates), then one pass over text and continuation together
        # that gives every attention matrix.
        writing = shape.generation(tokens, written) if new_tokens and target is None else 0.0
        flops = writing + shape.forward(tokens + written)
    return Cost(flops / GIGA, adapter.info.id)


def generation_cost(adapter: ModelAdapter, prompt_tokens: int, new_tokens: int) -> Cost | None:
    """A step-by-step generation (POST /api/v1/generate) of up to `new_tokens` tokens after a
    prompt of `prompt_tokens`, every step with its attention row."""
    if adapter.compute is None:
        return None
    return Cost(adapter.compute.generation(prompt_tokens, new_tokens) / GIGA, adapter.info.id)


def reading_cost(run: AttentionRun) -> Cost | None:
    """Reading a computed run's blocks (a render, or holding them all): at most every head of
    every block; None for a run that holds its blocks (nothing to compute)."""
    blocks = run.blocks
    if not isinstance(blocks, ComputedBlocks) or blocks.flops is None:
        return None
    return Cost(blocks.flops / GIGA, blocks.model)
