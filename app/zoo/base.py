"""What every model adapter promises: a description of itself and one run's attention."""

from abc import ABC, abstractmethod
from collections.abc import Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from app.attention.alignment import AlignSetting
from app.attention.analysis import AGGREGATES, Aggregate, Weighting
from app.attention.errors import InputError
from app.attention.run import AttentionRun
from app.attention.steps import HeadInternals
from app.zoo.flops import ComputeShape
from app.zoo.stepping import StepwiseGeneration

Family = Literal["encoder", "decoder", "encoder-decoder"]


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
    # Key/value heads per layer when fewer than the query heads (grouped-query attention).
    kv_heads: int | None = None
    # The `weighting` and `aggregate` options a request may ask of this model.
    weightings: list[Weighting] = field(default_factory=lambda: ["attention"])
    aggregates: list[Aggregate] = field(default_factory=lambda: list(AGGREGATES))


def files_under(folder: Path) -> tuple[Path, ...]:
    """Every file in a model folder and its subfolders, in a stable order."""
    return tuple(sorted(path for path in folder.rglob("*") if path.is_file()))


def file_stamp(path: Path) -> tuple[str, int, int] | tuple[str, None, None]:
    """(path, size, modification time); a file gone since loading stamps (path, None, None):
    the model in memory still runs, and what is keyed on it is keyed apart from the file's."""
    try:
        stat = path.stat()
    except OSError:
        return str(path), None, None
    return str(path), stat.st_size, stat.st_mtime_ns


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
    # The files the weights were read from: a change to one changes what the model computes
    # (caches of its results key on their sizes and times).
    weight_files: tuple[Path, ...] = ()
    # The sizes a run's cost is estimated from, before it runs (app/zoo/flops.py); None: not
    # known, and the inference gate treats its runs as long.
    compute: ComputeShape | None = None

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

    def reading_key(self, text: str, variant: str | None = None) -> Hashable:
        """What the model reads of `text`, as a cache key: two texts that read the same (they
        differ only in spacing or Unicode normal form, say) share one cached run. Unknown
        tokens carry their typed text, which the run shows. Raises InputError for a text the
        model cannot read (too long, nothing in it), before anything runs."""
        return text

    def budget(
        self, text: str, target: str | None, *, max_new_tokens: int, variant: str | None = None
    ) -> int:
        """The most tokens a run of `text` writes when no target is given: `max_new_tokens`,
        or less where the model's limits leave less room (app/zoo/budget.py). Raises
        InputError, before anything runs, when not one token fits or `target` does not fit.
        Only tokenizes; a model that writes nothing has nothing to check."""
        return max_new_tokens

    def tokens_in(self, reading: Hashable) -> int | None:
        """How many tokens the model reads in a `reading_key`, for cost estimates; None when
        the key does not say."""
        return None

    @property
    def batchable(self) -> bool:
        """Whether `run_batch` may serve concurrent texts with one forward pass."""
        return False

    def run_batch(self, texts: list[str]) -> list[AttentionRun | InputError]:
        """One run per text (no target, default variant); an InputError in place of a text
        that cannot be run."""
        raise NotImplementedError(f"model '{self.info.id}' does not run batches")

    def alignment_setting(self, variant: str | None = None) -> AlignSetting | None:
        """The setting that aligned best on a gold set (method `best` of POST /api/v1/align),
        or None when the model was never scored."""
        return None

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
        max_new_tokens: int,
    ) -> HeadInternals:
        """The tensors of one self-attention head for one query token; a model that writes
        its target writes at most `max_new_tokens`, as in its runs."""
        raise InputError(
            f"model '{self.info.id}' does not offer the step-by-step view; models that do are "
            "marked explainable in GET /api/v1/models"
        )

    def generation(self, text: str, *, max_new_tokens: int) -> StepwiseGeneration:
        """A greedy generation from `text`, ready to be stepped one token at a time (no
        forward pass yet). Raises InputError when the text cannot be run."""
        raise InputError(
            f"model '{self.info.id}' does not generate step by step; decoder-only models do "
            "(family 'decoder' in GET /api/v1/models)"
        )
