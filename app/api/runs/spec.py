"""What a request asks to run, as the run service reads it: one shape for every route."""

from dataclasses import dataclass, field

from app.attention.analysis import Options


@dataclass(frozen=True)
class RunSpec:
    """One run (model, text, target, variant, generation budget) and what of it to show
    (layers, heads, the analyses). Routes build it from their own request bodies."""

    model: str
    text: str
    target: str | None = None
    variant: str | None = None
    max_new_tokens: int | None = None
    layers: list[int] | None = None
    heads: list[int] | None = None
    options: Options = field(default_factory=Options)
