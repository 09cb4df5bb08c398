"""POST /api/v1/align: word alignment from a translator's cross-attention."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.attention.analysis import Granularity
from app.attention.ops.align import AlignMethod

AlignMethodName = AlignMethod | Literal["best"]


class AlignRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [
                {"model": "transformer-zh-en", "text": "我爱吃苹果", "target": "I love apples"},
                {
                    "model": "luong-zh-en",
                    "variant": "dot",
                    "text": "我爱吃苹果",
                    "target": "I love apples",
                    "method": "argmax",
                    "layer": 0,
                    "gold": "0-0 1-1 2?1 3-2 4-2",
                },
            ]
        },
    )

    model: str = Field(min_length=1, max_length=64, description="An encoder-decoder (translator).")
    text: str = Field(min_length=1, description="The source sentence.")
    target: str | None = Field(
        None,
        min_length=1,
        description="The translation to align, teacher-forced; left out: the model's own.",
    )
    variant: str | None = Field(None, min_length=1, max_length=32)
    method: AlignMethodName = Field(
        "best",
        description=(
            "argmax: each target token to the source token it weighs most. threshold: every "
            "pair whose weight reaches `threshold`. union: argmax per target token and per "
            "source token. grow_diag: the two argmax directions symmetrized as statistical "
            "aligners do (Koehn et al., 2003): the links both agree on, grown to neighbouring "
            "links of either direction whose target or source token is still unlinked. "
            "shift_att (Chen et al., 2020): argmax of the step where the target "
            "token is the decoder's input. best: the method, layer, head and threshold that "
            "scored the lowest AER on the model's dev gold set (its card); for a model never "
            "scored, argmax over the head mean of the last-but-one decoder layer."
        ),
    )
    layer: int | None = Field(
        None,
        ge=0,
        description=(
            "The decoder layer whose cross-attention is read; left out: the layer of the "
            "model's best setting, or the last-but-one. Not with method best."
        ),
    )
    head: int | None = Field(
        None, ge=0, description="One head; left out: the mean over heads. Not with method best."
    )
    threshold: float | None = Field(
        None,
        gt=0,
        le=1,
        description="For method threshold: the smallest weight that links (default 0.3).",
    )
    granularity: Granularity = Field(
        "token",
        description=(
            "token, or word (the source's words by jieba, the target's by spaces; rows "
            "averaged and columns summed over a word's tokens, as in /attention)."
        ),
    )
    gold: str | None = Field(
        None,
        min_length=1,
        max_length=20_000,
        description=(
            "A gold alignment in Pharaoh notation over the returned tokens: 'i-j' sure, 'i?j' "
            "possible, i the source index, j the target index. Adds precision, recall and AER "
            "(Och & Ney, 2003)."
        ),
    )


class AlignScoresOut(BaseModel):
    precision: float = Field(description="|A ∩ P| / |A|: links that are sure or possible.")
    recall: float = Field(description="|A ∩ S| / |S|: sure gold links that were found.")
    aer: float = Field(description="1 − (|A ∩ S| + |A ∩ P|) / (|A| + |S|); lower is better.")
    predicted: int = Field(description="|A|, the links returned.")
    sure: int = Field(description="|S|, sure gold links.")
    possible: int = Field(description="|P|, sure and possible gold links.")


class AlignTokensOut(BaseModel):
    source: list[str]
    target: list[str]


class AlignOut(BaseModel):
    model: str
    variant: str | None
    tokens: AlignTokensOut = Field(
        description="The tokens (or words) that can align, special tokens left out: what the "
        "indices of links, pharaoh and gold refer to."
    )
    links: list[list[int]] = Field(description="[target index, source index] pairs, sorted.")
    pharaoh: str = Field(description="The same links as 'i-j', source index first.")
    method: AlignMethod
    layer: int
    head: int | None = Field(description="The head read; null: the mean over heads.")
    threshold: float | None = Field(description="For method threshold: the threshold used.")
    chosen_by: Literal["request", "dev_gold", "default"] = Field(
        description="Where method, layer and head came from: the request, the model's dev "
        "gold scores (method best), or the default for a model never scored."
    )
    weights: list[list[float]] = Field(
        description="The [target, source] matrix the links were read from (rounded to 1e-4): "
        "/attention's block with special_tokens drop, this granularity and head (or "
        "aggregate heads); for shift_att, rows moved up one step."
    )
    output_text: str | None = Field(None, description="The translation, when the model wrote it.")
    max_new_tokens: int | None = Field(
        None,
        description="When the model wrote the translation: the budget it wrote with, the "
        "server's ATTN_MAX_NEW_TOKENS or less where the model's target limit is lower.",
    )
    scores: AlignScoresOut | None = Field(None, description="Against `gold`, when given.")
