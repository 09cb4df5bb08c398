"""Value norms ||f_h(x_j)|| read from a model's own projections during its forward pass.

For value-weighted attention (app/attention/ops/value_norm.py) each head h needs, for every
key j, the size of what that key carries into the output: f_h(x_j) = (x_j W_V + b_V) W_O^h,
where W_O^h is head h's rows of the output projection. x_j W_V + b_V is read with a forward
hook on the model's value projection, exactly as the model computed it; W_O^h is a slice of
the output projection's weight.
"""

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from app.attention.names import (
    BlockName,
    cross_attention,
    decoder_self_attention,
    encoder_self_attention,
)
from app.zoo.capture import capture_calls
from app.zoo.yielding import yield_point_in_run


@dataclass(frozen=True)
class ValueSite:
    """Where one attention block's value vectors are made, and where they go."""

    projection: nn.Module  # its output holds x W_V + b_V for every key
    out_weight: torch.Tensor  # (heads * head_dim, d_model): W_O, from head outputs to the model
    head_dim: int
    columns: slice | None = None  # the value columns of a fused q/k/v projection (GPT-2)
    # (heads, head_dim, head_dim) W_O^h W_O^hᵀ: ||v W_O^h||² = v G_h vᵀ. Made in float64, kept
    # in float32: G_h is well conditioned (MiniLM ≤ 15, SmolLM2 ≤ 152), so the float32 norms
    # are within 2e-7 of float64 ones, and a batch's norms cost 1.3 ms instead of 18.
    gram: torch.Tensor = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        per_head = self.out_weight.detach().double().reshape(self.heads, self.head_dim, -1)
        object.__setattr__(self, "gram", (per_head @ per_head.transpose(1, 2)).float())

    @property
    def heads(self) -> int:
        return self.out_weight.shape[0] // self.head_dim


ValueSites = Mapping[BlockName, ValueSite]
_Call = tuple[BlockName, ValueSite, torch.Tensor]  # a block, its site, its projection's output
# Most values (per head, per key) in one product of _norms: a 16-text MiniLM batch's blocks
# are one product, as before; SmolLM2's at 2,041 tokens six at a time, about 0.1 s each.
VALUES_AT_ONCE = 8_000_000
KeyCut = tuple[int, slice]  # a sequence's batch row, and its keys' positions in that row


@contextmanager
def reading_batch_value_norms(
    sites: ValueSites | None, cuts: Sequence[KeyCut]
) -> Iterator[list[dict[BlockName, np.ndarray]]]:
    """Yield one dict per sequence of the batch the `with` body runs through the model once;
    afterwards each holds that sequence's norms for every block, for its own keys: `cuts[i]`
    is (batch row, key positions in that row), as (b, slice(0, n_b)) for a padded batch, or
    (0, slice(start, start + n)) for texts packed into one row. With no sites (a model whose
    value path is not known) they stay empty."""
    per_sequence: list[dict[BlockName, np.ndarray]] = [{} for _ in cuts]
    if not sites:
        yield per_sequence
        return
    modules = {str(name): site.projection for name, site in sites.items()}
    with capture_calls(modules) as seen:
        yield per_sequence
    calls = [
        (name, site, seen[str(name)].output) for name, site in sites.items() if str(name) in seen
    ]
    for name, norms in _norms(calls, cuts).items():
        for row, row_norms in enumerate(norms):
            per_sequence[row][name] = row_norms


@torch.no_grad()
def _norms(calls: list[_Call], cuts: Sequence[KeyCut]) -> dict[BlockName, list[np.ndarray]]:
    """For each block, and each sequence i of the batch, (heads, its keys) float32
    ||f_h(x_j)|| from its value projection's output (batch, keys, width). Blocks of one shape
    (every layer of a model, as a rule) share one product: a dozen small operations per block
    and per sequence cost 7% of a 30-token MiniLM run."""
    groups: defaultdict[tuple[int, int, tuple[int, int, int]], list[_Call]] = defaultdict(list)
    for name, site, output in calls:
        block_values = output if site.columns is None else output[..., site.columns]
        batch, keys, width = block_values.shape
        shape = (site.heads, site.head_dim, (batch, keys, width))
        groups[shape].append((name, site, block_values))
    found: dict[BlockName, list[np.ndarray]] = {}
    for (heads, head_dim, (batch, keys, width)), group in groups.items():
        # A long run's blocks go a few at a time, with a yield point between (SmolLM2's 30
        # at 2,041 tokens took half a second in one product; app/zoo/yielding.py).
        at_once = max(1, VALUES_AT_ONCE // (batch * heads * keys * head_dim))
        for start in range(0, len(group), at_once):
            yield_point_in_run()
            members = group[start : start + at_once]
            found.update(_group_norms(members, heads, head_dim, (batch, keys, width), cuts))
    return found


def _group_norms(
    members: list[_Call],
    heads: int,
    head_dim: int,
    shape: tuple[int, int, int],
    cuts: Sequence[KeyCut],
) -> dict[BlockName, list[np.ndarray]]:
    """_norms of blocks of one shape (batch, keys, width), in one product."""
    batch, keys, width = shape
    kv_heads = width // head_dim
    values = torch.stack([v for _, _, v in members]).float()  # (S, B, K, W)
    per_head = values.reshape(len(members), batch, keys, kv_heads, head_dim).transpose(2, 3)
    if kv_heads != heads:
        # Grouped-query attention: query head h reads key/value head h // (heads / kv_heads).
        per_head = per_head.repeat_interleave(heads // kv_heads, dim=2)  # (S, B, H, K, d)
    gram = torch.stack([site.gram for _, site, _ in members]).unsqueeze(1)  # (S, 1, H, d, d)
    squared = (torch.matmul(per_head, gram) * per_head).sum(dim=-1)  # (S, B, H, K): v G vᵀ
    sizes = squared.clamp_min(0).sqrt().numpy()
    return {
        name: [np.ascontiguousarray(sizes[i, row, :, cut]) for row, cut in cuts]
        for i, (name, _, _) in enumerate(members)
    }


@contextmanager
def reading_value_norms(sites: ValueSites | None) -> Iterator[dict[BlockName, np.ndarray]]:
    """The norms of a one-sequence run, as reading_batch_value_norms."""
    with reading_batch_value_norms(sites, [(0, slice(None))]) as per_sequence:
        yield per_sequence[0]


def _linear_in_out(module: Any) -> torch.Tensor:
    """A projection's weight as (inputs, outputs): nn.Linear stores it the other way round."""
    weight: torch.Tensor = module.weight
    return weight.t() if isinstance(module, nn.Linear) else weight


def _bert_sites(base: Any) -> dict[BlockName, ValueSite]:
    return {
        encoder_self_attention(i): ValueSite(
            layer.attention.self.value,
            _linear_in_out(layer.attention.output.dense),
            layer.attention.self.attention_head_size,
        )
        for i, layer in enumerate(base.encoder.layer)
    }


def _gpt2_sites(base: Any) -> dict[BlockName, ValueSite]:
    sites = {}
    for i, block in enumerate(base.h):
        width = block.attn.embed_dim
        sites[decoder_self_attention(i)] = ValueSite(
            block.attn.c_attn,  # fused: [queries | keys | values]
            _linear_in_out(block.attn.c_proj),
            block.attn.head_dim,
            columns=slice(2 * width, 3 * width),
        )
    return sites


def _llama_sites(base: Any) -> dict[BlockName, ValueSite]:
    return {
        decoder_self_attention(i): ValueSite(
            layer.self_attn.v_proj,
            _linear_in_out(layer.self_attn.o_proj),
            layer.self_attn.head_dim,
        )
        for i, layer in enumerate(base.layers)
    }


def _bart_site(attention: Any) -> ValueSite:
    return ValueSite(attention.v_proj, _linear_in_out(attention.out_proj), attention.head_dim)


def _bart_sites(base: Any) -> dict[BlockName, ValueSite]:
    sites = {
        encoder_self_attention(i): _bart_site(layer.self_attn)
        for i, layer in enumerate(base.encoder.layers)
    }
    for i, layer in enumerate(base.decoder.layers):
        sites[decoder_self_attention(i)] = _bart_site(layer.self_attn)
        sites[cross_attention(i)] = _bart_site(layer.encoder_attn)
    return sites


# Model types whose value path is exactly "projection, then per-head mix, then output
# projection", by module layout. Another type with the same module names may transform the
# values in between (a norm on v, say), so it is not guessed: it gets no value norms.
HUGGINGFACE_LAYOUTS = {
    "bert": _bert_sites,
    "roberta": _bert_sites,
    "xlm-roberta": _bert_sites,
    "electra": _bert_sites,
    "gpt2": _gpt2_sites,
    "llama": _llama_sites,
    "mistral": _llama_sites,
    "qwen2": _llama_sites,
    "bart": _bart_sites,
    "mbart": _bart_sites,
    "marian": _bart_sites,
}


def huggingface_value_sites(model: Any) -> dict[BlockName, ValueSite] | None:
    layout = HUGGINGFACE_LAYOUTS.get(getattr(model.config, "model_type", ""))
    return None if layout is None else layout(model.base_model)


def transformer_translator_sites(model: Any) -> dict[BlockName, ValueSite]:
    """The project's own Transformer (app/seq2seq/transformer.py): W_v, then W_o."""

    def site(attention: Any) -> ValueSite:
        return ValueSite(
            attention.W_v,
            _linear_in_out(attention.W_o),
            attention.W_v.out_features // attention.heads,
        )

    sites = {
        encoder_self_attention(i): site(layer.self_attn)
        for i, layer in enumerate(model.encoder_layers)
    }
    for i, layer in enumerate(model.decoder_layers):
        sites[decoder_self_attention(i)] = site(layer.self_attn)
        sites[cross_attention(i)] = site(layer.cross_attn)
    return sites
