"""Block names: the one place where they are built, parsed and told which tokens label them.

Every attention matrix is a block named `{stack}.{layer}.{kind}` and shaped
[head, query, key]. What labels its rows and columns depends only on (stack, kind):

| stack.kind          | rows (queries)  | columns (keys)  |
|---------------------|-----------------|-----------------|
| encoder.self_attn   | source          | source          |
| decoder.self_attn   | target          | target_input    |
| decoder.cross_attn  | target          | source          |

No other module writes a name by hand or keeps its own copy of this table.
"""

import re
from dataclasses import dataclass
from typing import Literal, get_args

Stack = Literal["encoder", "decoder"]
Kind = Literal["self_attn", "cross_attn"]
TokenListName = Literal["source", "target", "target_input"]
TOKEN_LISTS: tuple[TokenListName, ...] = get_args(TokenListName)

_NAME = re.compile(r"^(encoder|decoder)\.(\d+)\.(self_attn|cross_attn)$")
_STACK_ORDER = {"encoder": 0, "decoder": 1}
_KIND_ORDER = {"self_attn": 0, "cross_attn": 1}


@dataclass(frozen=True)
class Axes:
    """Which token list labels a block's rows and which its columns, and what to call it."""

    rows: TokenListName
    cols: TokenListName
    label: str


AXES: dict[tuple[Stack, Kind], Axes] = {
    ("encoder", "self_attn"): Axes("source", "source", "Encoder self-attention"),
    # Row t is the step that writes target[t] after reading target_input[t].
    ("decoder", "self_attn"): Axes("target", "target_input", "Decoder self-attention (causal)"),
    ("decoder", "cross_attn"): Axes("target", "source", "Cross-attention (target → source)"),
}


@dataclass(frozen=True)
class BlockName:
    stack: Stack
    layer: int
    kind: Kind

    def __post_init__(self) -> None:
        if (self.stack, self.kind) not in AXES:
            raise ValueError(f"there is no {self.kind} in the {self.stack} stack")
        if self.layer < 0:
            raise ValueError(f"layer {self.layer} is negative")

    def __str__(self) -> str:
        return f"{self.stack}.{self.layer}.{self.kind}"

    @classmethod
    def parse(cls, name: str) -> "BlockName":
        match = _NAME.match(name)
        if match is None:
            raise ValueError(f"'{name}' is not a block name of the form stack.layer.kind")
        stack, layer, kind = match.groups()
        return cls(stack, int(layer), kind)  # type: ignore[arg-type]

    @property
    def axes(self) -> Axes:
        return AXES[(self.stack, self.kind)]

    @property
    def sort_key(self) -> tuple[int, int, int]:
        """Contract order: the encoder before the decoder, then by layer, self before cross."""
        return (_STACK_ORDER[self.stack], self.layer, _KIND_ORDER[self.kind])


def encoder_self_attention(layer: int) -> BlockName:
    return BlockName("encoder", layer, "self_attn")


def decoder_self_attention(layer: int) -> BlockName:
    return BlockName("decoder", layer, "self_attn")


def cross_attention(layer: int) -> BlockName:
    return BlockName("decoder", layer, "cross_attn")
