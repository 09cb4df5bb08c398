"""Word alignment of one translation: a cross-attention block, read through the same
analyses as /attention, turned into links (app/attention/ops/align.py) and scored against a
gold alignment when one is given (app/attention/pharaoh.py).

The matrix the links come from is exactly what POST /api/v1/attention returns for the same
run with `special_tokens: "drop"` (special tokens carry no alignment), the same granularity,
and the one head asked for or `aggregate: "heads"`; for shift_att, its rows moved up by one
step. So any client can redo the extraction from that response.
"""

from dataclasses import dataclass

import numpy as np

from app.attention.analysis import Granularity, Options, analyse
from app.attention.errors import InputError
from app.attention.links import Link
from app.attention.names import BlockName, cross_attention
from app.attention.ops.align import AlignMethod, links, shift_rows
from app.attention.run import AttentionRun
from app.attention.view import Label


@dataclass(frozen=True)
class AlignSetting:
    """What produces the links: a method, a decoder layer, a head (None: the head mean)."""

    method: AlignMethod
    layer: int
    head: int | None = None
    threshold: float = 0.3


@dataclass(frozen=True)
class Alignment:
    source: list[Label]
    target: list[Label]
    matrix: np.ndarray  # [target, source], each row sums to 1
    links: list[Link]  # sorted by target, then source


def cross_attention_layers(run: AttentionRun) -> list[int]:
    return sorted(name.layer for name in run.blocks if name.kind == "cross_attn")


def align(run: AttentionRun, setting: AlignSetting, granularity: Granularity) -> Alignment:
    layers = cross_attention_layers(run)
    if not layers:
        raise InputError(
            "this model has no cross-attention, so nothing aligns a target to a source; "
            "alignment needs a translator (an encoder-decoder)"
        )
    if setting.layer not in layers:
        raise InputError(
            f"layer {setting.layer} has no cross-attention; choose one of layers "
            f"{layers[0]}-{layers[-1]}"
        )
    name: BlockName = cross_attention(setting.layer)
    heads = run.shape(name)[0]
    if setting.head is not None and not 0 <= setting.head < heads:
        raise InputError(
            f"head {setting.head} does not exist; this model has heads 0-{heads - 1} "
            "(or leave 'head' out for the mean over heads)"
        )
    if setting.method == "shift_att":
        run = shift_rows(run, name)
    options = Options(
        granularity=granularity,
        special_tokens="drop",
        aggregate="heads" if setting.head is None else "none",
    )
    view = analyse(run, options, [setting.layer], None if setting.head is None else [setting.head])
    block = next(b for b in view.blocks if b.name == name)
    matrix = block.data[0]
    return Alignment(
        source=view.labels["source"],
        target=view.labels["target"],
        matrix=matrix,
        links=links(matrix, setting.method, setting.threshold),
    )
