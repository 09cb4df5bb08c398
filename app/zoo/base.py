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
