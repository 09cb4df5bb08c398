"""The analyses a request asks for, composed in one documented order.

1. select the layers and heads (rollout needs every layer from 0, so it selects them all
   and keeps the asked-for layers at the end);
2. weighting: value-norm weighting, if asked (it needs token-level rows and columns);
3. special tokens: dropped, if asked, every row renormalized;
4. granularity: tokens merged into words, if asked (rows averaged, columns summed);
5. aggregate: the mean over heads, or rollout (which takes the head mean per layer).

Each step is a pure function of the cached run, so switching any option costs no forward
pass.
"""

from dataclasses import dataclass, replace
from typing import Literal, get_args

from app.attention.ops.heads import mean_over_heads
from app.attention.ops.rollout import rollout
from app.attention.ops.select import check_selection, select
from app.attention.ops.special import drop_special_tokens
from app.attention.ops.value_norm import weight_by_value_norm
from app.attention.ops.words import merge_words
from app.attention.run import AttentionRun
from app.attention.view import View

Granularity = Literal["token", "word"]
SpecialTokens = Literal["keep", "drop"]
Aggregate = Literal["none", "heads", "rollout"]
Weighting = Literal["attention", "value_norm"]
AGGREGATES: tuple[Aggregate, ...] = get_args(Aggregate)
WEIGHTINGS: tuple[Weighting, ...] = get_args(Weighting)


@dataclass(frozen=True)
class Options:
    granularity: Granularity = "token"
    special_tokens: SpecialTokens = "keep"
    aggregate: Aggregate = "none"
    weighting: Weighting = "attention"

    @property
    def regroups_tokens(self) -> bool:
        """Whether the labels are no longer one per token of the run."""
        return self.granularity == "word" or self.special_tokens == "drop"


def analyse(
    run: AttentionRun,
    options: Options,
    layers: list[int] | None = None,
    heads: list[int] | None = None,
) -> View:
    check_selection(run, layers, heads)
    view = select(run, None if options.aggregate == "rollout" else layers, heads)
    if options.weighting == "value_norm":
        view = weight_by_value_norm(view, run)
    if options.special_tokens == "drop":
        view = drop_special_tokens(view)
    if options.granularity == "word":
        view = merge_words(view, run)
    if options.aggregate == "heads":
        view = mean_over_heads(view)
    elif options.aggregate == "rollout":
        view = rollout(view)
        if layers is not None:
            wanted = set(layers)
            view = replace(view, blocks=(b for b in view.blocks if b.name.layer in wanted))
    return view


def response_weights(
    run: AttentionRun,
    options: Options,
    layers: list[int] | None,
    heads: list[int] | None,
    max_size: int | None,
) -> int:
    """How many weights the response would carry at most (token level, before words merge):
    known from the shapes alone, before anything is computed."""
    total = 0
    for name in run.blocks:
        if layers is not None and name.layer not in layers:
            continue
        count, rows, cols = run.shape(name)
        if options.aggregate != "none":
            count = 1
        elif heads is not None:
            count = len(set(heads))
        if max_size is not None:
            rows, cols = min(rows, max_size), min(cols, max_size)
        total += count * rows * cols
    return total


def largest_max_size(
    run: AttentionRun,
    options: Options,
    layers: list[int] | None,
    heads: list[int] | None,
    bound: int,
) -> int:
    """The largest `max_size` whose response carries at most `bound` weights, by
    `response_weights`; 0 when not even one weight per matrix fits."""
    sides = [side for name in run.blocks for side in run.shape(name)[1:]]
    low, high = 0, max(sides, default=0)  # 0 always fits; beyond the longest side, nothing pools
    while low < high:
        middle = (low + high + 1) // 2
        if response_weights(run, options, layers, heads, middle) <= bound:
            low = middle
        else:
            high = middle - 1
    return low
