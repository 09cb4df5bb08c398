"""What each model family declares about itself, so that generic code (checkpoints, the
translator, training) handles every family alike and names none of them.

A family module (bahdanau.py, luong.py, transformer.py) ends with its `FAMILY`: the config
dataclass, the model it builds, the (layers, heads) of the attention it returns and, when
its checkpoints come in variants, which config field names them. families.py collects them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from app.seq2seq.base import Seq2SeqModel


class ModelConfig(Protocol):
    """What generic code reads from any family's config dataclass."""

    __dataclass_fields__: ClassVar[dict[str, Any]]
    max_source_len: int  # source tokens including </s>
    max_target_len: int  # target tokens including </s>


Config = TypeVar("Config", bound=ModelConfig)


@dataclass(frozen=True)
class Variants:
    """Checkpoints of one family that differ by one config choice (Luong: the score
    function). Each is trained on its own and kept in its own folder under the model folder
    (models/luong-zh-en/general/)."""

    field: str  # the config field whose value names the variant; also the training flag
    names: tuple[str, ...]  # every choice, in the order they are listed
    default: str  # the one a caller gets without naming one

    def __post_init__(self) -> None:
        if self.default not in self.names:
            raise ValueError(f"default variant {self.default!r} is not one of {self.names}")


def one_block(config: Any) -> tuple[int, int]:
    """The layout of a GRU translator: one cross-attention block with one head."""
    return 1, 1


@dataclass(frozen=True)
class FamilySpec(Generic[Config]):
    name: str  # as written in config.json and given to training's --model
    config: type[Config]
    model: Callable[[Config], Seq2SeqModel]
    variants: Variants | None = None
    layout: Callable[[Config], tuple[int, int]] = one_block  # (layers, heads) of its blocks
