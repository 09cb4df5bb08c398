"""What every model adapter promises: a description of itself and one run's attention."""

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Literal

import torch

Family = Literal["encoder", "decoder", "encoder-decoder"]


class InputError(ValueError):
    """The request cannot be run as given; the message tells the caller what to change."""


@dataclass(frozen=True)
class Example:
    text: str
    target: str | None = None


@dataclass(frozen=True)
class ModelInfo:
    id: str
    name: str
    family: Family
    layers: int
    heads: int
    languages: list[str]
    description: str
    max_tokens: int
    examples: list[Example]
    license: str = ""
    source: str = ""
    variants: list[str] = field(default_factory=list)
    default_variant: str | None = None
    explainable: bool = False  # offers the step-by-step view of one head (POST /explain)


@dataclass
class AttentionRun:
    """Everything one forward pass produced, before any selection or encoding.

    Blocks are named `{stack}.{layer}.{kind}` and shaped [heads, queries, keys]:
    encoder.L.self_attn is [H, S, S], decoder.L.self_attn is [H, T, T] and
    decoder.L.cross_attn is [H, T, S].
    """

    source_tokens: list[str]
    # Decoder rows: target_tokens[t] names query row t; target_input_tokens[t] is what the
    # decoder read at step t (the key labels of decoder self-attention). For a seq2seq model
    # row t emits target_tokens[t] after reading target_input_tokens[t] = target_tokens[t-1].
    target_tokens: list[str]
    target_input_tokens: list[str]
    blocks: dict[str, torch.Tensor]
    output_text: str | None = None


@dataclass
class HeadInternals:
    """The real tensors of one attention head for one query, read from the model by hooks."""

    tokens: list[str]  # the query positions' tokens
    key_tokens: list[str]  # the key positions' tokens
    query_index: int
    query: torch.Tensor  # (d_k,) the query vector, after the model's W_Q projection
    keys: torch.Tensor  # (n, d_k) after W_K
    values: torch.Tensor  # (n, d_k) after W_V
    scaling: float  # the factor the model multiplies q.k by: 1/sqrt(d_k)
    model_weights: torch.Tensor  # (n,) the model's own attention row for this query
    model_output: torch.Tensor  # (d_k,) the model's own output of this head for this query
    # Keys the model masks out (a causal decoder's future): they get exactly zero weight.
    masked: torch.Tensor | None = None  # (n,) bool


def resolve_query(tokens: list[str], query: int | str) -> int:
    """The position of the query token: an index, or the first token that reads `query`."""
    if isinstance(query, int):
        if not 0 <= query < len(tokens):
            raise InputError(
                f"query {query} is out of range; the text has tokens 0-{len(tokens) - 1}"
            )
        return query
    wanted = query.strip().casefold()
    for position, token in enumerate(tokens):
        if token.casefold() == wanted:
            return position
    shown = ", ".join(repr(t) for t in tokens[:40])
    raise InputError(
        f"no token reads {query!r}; the tokens are: {shown}. Give an index or one of these."
    )


def check_layer_and_head(stack: str, layer: int, layers: int, head: int, heads: int) -> None:
    """Raise InputError naming the valid range when the layer or head does not exist."""
    if not 0 <= layer < layers:
        raise InputError(f"layer {layer} does not exist; the {stack} has layers 0-{layers - 1}")
    if not 0 <= head < heads:
        raise InputError(f"head {head} does not exist; this model has heads 0-{heads - 1}")


class ModelAdapter(ABC):
    """One loaded model. Read-only after loading: two requests may run it at once."""

    info: ModelInfo

    @abstractmethod
    def run(
        self,
        text: str,
        target: str | None,
        *,
        max_new_tokens: int,
        variant: str | None = None,
    ) -> AttentionRun:
        """Run the model once and return every attention matrix it computed.

        Raises InputError when the input cannot be run (too long, empty after tokenizing).
        """

    def explain(
        self,
        text: str,
        *,
        stack: str,
        layer: int,
        head: int,
        query: int | str,
        target: str | None = None,
        variant: str | None = None,
    ) -> HeadInternals:
        """The tensors of one self-attention head for one query token."""
        raise InputError(
            f"model '{self.info.id}' does not offer the step-by-step view; models that do are "
            "marked explainable in GET /api/v1/models"
        )
