"""POST /api/v1/attention and GET /api/v1/report: what to run and analyse, and the blocks
that come back."""

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.api.runs.spec import RunSpec
from app.attention.analysis import Aggregate, Granularity, Options, SpecialTokens, Weighting
from app.attention.names import Kind, Stack, TokenListName
from app.attention.ops.encode import Encoding


class RunFields(BaseModel):
    """What one run is (model, text, target, variant, budget) and the analyses of it to show:
    the fields POST /api/v1/attention and GET /api/v1/report share."""

    model: str = Field(
        max_length=64,
        description="A model id from GET /api/v1/models.",
    )
    text: str = Field(
        min_length=1,
        description="The input sentence (the source, for a translator). Limits: see max_chars.",
    )
    target: str | None = Field(
        None,
        min_length=1,
        description=(
            "Decoder models only. Given: the model is teacher-forced on this text and its "
            "attention returned. Left out: the model generates greedily and returns output_text."
        ),
    )
    # At least one of each: an empty selection has nothing to show or to average.
    layers: list[int] | None = Field(
        None,
        min_length=1,
        max_length=256,
        description="Only these layer indices (all stacks); all layers when left out.",
    )
    heads: list[int] | None = Field(
        None,
        min_length=1,
        max_length=256,
        description="Only these head indices; all heads when left out.",
    )
    variant: str | None = Field(
        None,
        min_length=1,
        max_length=32,
        description="One of the model's variants (e.g. a Luong scorer); the default when left out.",
    )
    max_new_tokens: int | None = Field(
        None,
        ge=1,
        description="Most tokens to generate when no target is given (capped by the server).",
    )
    # The analyses, applied to the cached run in this order: weighting, special_tokens,
    # granularity, aggregate (see app/attention/analysis.py).
    weighting: Weighting = Field(
        "attention",
        description=(
            "attention: the weights as the model computed them. value_norm (Kobayashi et al., "
            "2020): each weight α_ij times ||f_h(x_j)||, f_h(x_j) = (x_j W_V + b_V) W_O^h, the "
            "size of what key j carries into head h's output; rows normalized to sum to 1, "
            "their sums before that in row_totals. GET /api/v1/models lists the weightings of "
            "each model."
        ),
    )
    special_tokens: SpecialTokens = Field(
        "keep",
        description=(
            "drop: remove the rows and columns of special tokens ([CLS], [SEP], <s>, </s>) and "
            "renormalize every row to sum to 1 (a row whose every key was special stays 0)."
        ),
    )
    granularity: Granularity = Field(
        "token",
        description=(
            'word: tokens merged into the words a reader sees ("didn\'t" is one word; '
            "Chinese is cut into words by jieba): a word's row is the mean of its tokens' rows, "
            "its column the sum of their columns, so rows still sum to 1. The response then "
            "carries token_groups."
        ),
    )
    aggregate: Aggregate = Field(
        "none",
        description=(
            "heads: the mean over the selected heads, one row set per block, [1, Q, K]. "
            "rollout (Abnar & Zuidema, 2020): each self-attention block L becomes the rollout "
            "through layers 0..L, Â_L·…·Â_0 with Â_l = 0.5·Ā_l + 0.5·I renormalized and Ā_l "
            "the head mean; [1, S, S]. Not offered for encoder-decoder models (see "
            "aggregates in GET /api/v1/models)."
        ),
    )

    def spec(self) -> RunSpec:
        """What the run service reads of these fields."""
        return RunSpec(
            model=self.model,
            text=self.text,
            target=self.target,
            variant=self.variant,
            max_new_tokens=self.max_new_tokens,
            layers=self.layers,
            heads=self.heads,
            options=Options(
                granularity=self.granularity,
                special_tokens=self.special_tokens,
                aggregate=self.aggregate,
                weighting=self.weighting,
            ),
        )


class AttentionRequest(RunFields):
    # strict: a boolean is not a layer index, a number is not a text.
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [
                {
                    "model": "minilm",
                    "text": "The animal didn't cross the street because it was too tired",
                },
                {
                    "model": "minilm",
                    "text": "Time flies like an arrow",
                    "layers": [0, 5],
                    "heads": [3],
                },
                {
                    "model": "minilm",
                    "text": "The animal didn't cross the street because it was too tired",
                    "granularity": "word",
                    "special_tokens": "drop",
                    "aggregate": "rollout",
                },
            ]
        },
    )

    encoding: Encoding = Field(
        "json",
        description=(
            "How each block's data travels. json: nested lists [head][query][key]. uint8: "
            "base64 of H*Q*K bytes, row-major, weight = byte/255. float16: base64 of "
            "little-endian IEEE half floats, row-major."
        ),
    )
    max_size: int | None = Field(
        None,
        ge=1,
        le=4096,
        description=(
            "For overview thumbnails: pool each matrix to at most this many rows and columns "
            "(queries averaged, keys summed, so rows still sum to 1). The block then carries "
            "pooled_from, its full shape."
        ),
    )


class ReportQuery(RunFields):
    """GET /api/v1/report's query: the fields of POST /api/v1/attention that say what to run
    and analyse; the report picks its own encoding and, for a long run, its pooling."""

    # Query values arrive as strings: numbers are parsed from them (no strict mode), and a
    # misspelt parameter is refused rather than silently ignored.
    model_config = ConfigDict(extra="forbid")

    @field_validator("layers", "heads", mode="before")
    @classmethod
    def split_comma_lists(cls, value: object) -> object:
        """`layers=1&layers=2` and `layers=1,2` are the same list."""
        if not isinstance(value, list):
            return value
        parts: list[object] = []
        for item in value:
            if isinstance(item, str):
                parts.extend(part.strip() for part in item.split(",") if part.strip())
            else:
                parts.append(item)
        return parts


class TokensOut(BaseModel):
    source: list[str] = Field(description="Encoder tokens: the keys of cross-attention.")
    target: list[str] = Field(
        description="Decoder query rows: for a translator, the token emitted at each step."
    )
    target_input: list[str] = Field(
        description="What the decoder read at each step: the keys of decoder self-attention."
    )


class SpecialOut(BaseModel):
    source: list[bool]
    target: list[bool]
    target_input: list[bool]


class TokenGroupsOut(BaseModel):
    source: list[list[int]]
    target: list[list[int]]
    target_input: list[list[int]]


class OptionsOut(BaseModel):
    granularity: Granularity
    special_tokens: SpecialTokens
    aggregate: Aggregate
    weighting: Weighting


class BlockOut(BaseModel):
    name: str = Field(examples=["encoder.0.self_attn"], description="{stack}.{layer}.{kind}")
    stack: Stack
    layer: int
    kind: Kind
    label: str = Field(examples=["Encoder self-attention"], description="What the block is.")
    rows: TokenListName = Field(description="The list in `tokens` that labels the rows.")
    cols: TokenListName = Field(description="The list in `tokens` that labels the columns.")
    heads: list[int] = Field(
        description=(
            "The model's head index of each entry along axis 0; when aggregate is heads or "
            "rollout, axis 0 has one entry, the mean over these heads."
        )
    )
    shape: list[int] = Field(description="[heads, queries, keys] of `data`")
    encoding: Encoding
    data: list[list[list[float]]] | str = Field(
        description=(
            "Attention weights [head][query][key], each row summing to 1: nested lists for "
            "json, a base64 string for uint8 and float16."
        )
    )
    pooled_from: list[int] | None = Field(
        None, description="The full [heads, queries, keys] when max_size pooled the block."
    )
    explainable: bool = Field(
        description=(
            "POST /api/v1/explain can open this block's heads step by step (with this block's "
            "stack): self-attention of an explainable model, shown raw (default options)."
        )
    )
    aligns: bool = Field(
        description=(
            "Its rows and columns are two different texts, a translation's target over its "
            "source: POST /api/v1/align reads its word links from blocks like this one."
        )
    )
    row_totals: list[list[float]] | str | None = Field(
        None,
        description=(
            "weighting value_norm only: [heads, queries], each row's Σ_j α_ij ||f_h(x_j)|| "
            "before it was normalized, over the keys shown (averaged like the rows for words, "
            "heads and pooling; absent for rollout). Nested lists for json, otherwise base64 "
            "little-endian float16."
        ),
    )


class AttentionOut(BaseModel):
    model: str
    variant: str | None
    options: OptionsOut = Field(description="The analyses applied, in force for every block.")
    tokens: TokensOut = Field(
        description="The labels of rows and columns: tokens, or words at granularity word."
    )
    special: SpecialOut = Field(description="Whether each label in `tokens` is a special token.")
    token_groups: TokenGroupsOut | None = Field(
        None,
        description=(
            "At granularity word or with special_tokens drop: for each label, the positions of "
            "the tokens it covers in the token-level run, e.g. source [[0], [1], [2], [3, 4, 5]]."
        ),
    )
    unknown: dict[TokenListName, list[tuple[int, str]]] | None = Field(
        None,
        description=(
            "Tokens the model read as unknown: for each token list, [position, the text as "
            "typed], positions at token level. `tokens` shows what the model read (<unk>, "
            "[UNK]); this keeps what was typed. Absent when the model knew every token."
        ),
    )
    output_text: str | None = Field(
        None, description="The generated text, when the model generated (no target given)."
    )
    max_new_tokens: int | None = Field(
        None,
        description=(
            "When the model generated: the budget it wrote with, the request's max_new_tokens "
            "(or the server's), or less where the model's token limit left less room after the "
            "text."
        ),
    )
    blocks: list[BlockOut]
