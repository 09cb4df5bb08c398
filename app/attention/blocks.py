"""Named attention blocks: parse the naming contract and pick the layers and heads asked for.

Selection works on numpy views of the run's tensors: it runs on a web thread, and torch
work belongs on the inference threads (see app/api/inference.py).
"""

import re
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from app.zoo.base import InputError

Stack = Literal["encoder", "decoder"]
Kind = Literal["self_attn", "cross_attn"]

_NAME = re.compile(r"^(encoder|decoder)\.(\d+)\.(self_attn|cross_attn)$")
_STACK_ORDER = {"encoder": 0, "decoder": 1}
_KIND_ORDER = {"self_attn": 0, "cross_attn": 1}


@dataclass(frozen=True)
class Block:
    name: str
    stack: Stack
    layer: int
    kind: Kind
    heads: list[int]
    data: np.ndarray  # (len(heads), Q, K), float32


def parse_name(name: str) -> tuple[Stack, int, Kind]:
    match = _NAME.match(name)
    if match is None:
        raise ValueError(f"'{name}' is not a block name of the form stack.layer.kind")
    stack, layer, kind = match.groups()
    return stack, int(layer), kind  # type: ignore[return-value]


def _ranges(values: list[int]) -> str:
    return f"{min(values)}-{max(values)}" if values else "none"


def select_blocks(
    blocks: dict[str, torch.Tensor],
    layers: list[int] | None = None,
    heads: list[int] | None = None,
) -> list[Block]:
    """The blocks of the requested layers, each cut to the requested heads, in contract order.

    Raises InputError naming the valid range when a layer or head does not exist.
    """
    parsed = [(parse_name(name), name, data) for name, data in blocks.items()]
    parsed.sort(key=lambda p: (_STACK_ORDER[p[0][0]], p[0][1], _KIND_ORDER[p[0][2]]))
    available_layers = sorted({layer for (_, layer, _), _, _ in parsed})
    if layers is not None:
        missing = sorted(set(layers) - set(available_layers))
        if missing:
            raise InputError(
                f"layer {missing[0]} does not exist; this model has layers "
                f"{_ranges(available_layers)}"
            )
    head_count = min((data.shape[0] for _, _, data in parsed), default=0)
    if heads is not None:
        bad = sorted(h for h in set(heads) if not 0 <= h < head_count)
        if bad:
            valid = _ranges(list(range(head_count)))
            raise InputError(f"head {bad[0]} does not exist; this model has heads {valid}")
    wanted_layers = set(layers) if layers is not None else None
    head_index = sorted(set(heads)) if heads is not None else None
    selected = []
    for (stack, layer, kind), name, data in parsed:
        if wanted_layers is not None and layer not in wanted_layers:
            continue
        chosen = head_index if head_index is not None else list(range(data.shape[0]))
        array = data.numpy()  # a view: the run's tensors are float32 on the CPU
        cut = array if head_index is None else array[head_index]
        selected.append(Block(name, stack, layer, kind, chosen, cut))
    return selected
