"""Request and response bodies of the REST API, as documented in /openapi.json."""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from app.attention.analysis import Aggregate, Granularity, SpecialTokens, Weighting
from app.attention.names import Kind, Stack, TokenListName
from app.attention.ops.align import AlignMethod
from app.attention.ops.encode import Encoding
from app.attention.roles import Role


class ExampleOut(BaseModel):
    text: str
    target: str | None = None


class ModelOut(BaseModel):
    id: str = Field(examples=["minilm"])
    name: str
    family: Literal["encoder", "decoder", "encoder-decoder"]
    layers: int = Field(description="Layers per stack (encoder and decoder are counted apart).")
    heads: int = Field(description="Attention (query) heads per layer; every block carries all.")
    kv_heads: int = Field(
        description=(
            "Key/value heads per layer: fewer than heads under grouped-query attention, where "
            "query head h reads key/value head h // (heads / kv_heads)."
        )
    )
    languages: list[str]
    description: str
    max_tokens: int = Field(description="Longest input this model accepts, in tokens.")
    examples: list[ExampleOut]
    license: str
    source: str = Field(description="Where the weights come from.")
    variants: list[str] = Field(
        description="Alternative checkpoints of this model, chosen with 'variant' on a request."
    )
    default_variant: str | None
    explainable: bool = Field(
        description="Offers POST /api/v1/explain, self-attention step by step for one head."
    )
    weightings: list[Weighting] = Field(
        description="The `weighting` values this model offers (value_norm needs its value path)."
    )
    aggregates: list[Aggregate] = Field(
        description="The `aggregate` values this model offers (no rollout for encoder-decoders)."
    )


class ModelsOut(BaseModel):
    models: list[ModelOut]


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
    blocks: list[BlockOut]


class ErrorOut(BaseModel):
    detail: str = Field(description="What went wrong and what to change.")
    errors: list[dict[str, object]] | None = Field(
        None, description="For 422: each invalid field, its location and the rule it broke."
    )


class ExplainRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [
                {
                    "model": "minilm",
                    "text": "The animal didn't cross the street because it was too tired",
                    "layer": 3,
                    "head": 5,
                    "query": "it",
                }
            ]
        },
    )

    model: str = Field(min_length=1, max_length=64)
    text: str = Field(min_length=1)
    layer: int = Field(ge=0)
    head: int = Field(ge=0)
    query: int | Annotated[str, StringConstraints(min_length=1, max_length=100)] = Field(
        description="The query token: its index in the tokens, or its text (the first match).",
    )
    stack: Literal["encoder", "decoder"] | None = Field(
        None, description="Which self-attention to open; the model's first stack when left out."
    )
    target: str | None = Field(
        None, min_length=1, description="Translators: the target to force, for the decoder stack."
    )
    variant: str | None = Field(None, min_length=1, max_length=32)


class ExplainChecks(BaseModel):
    weights_max_abs_diff: float = Field(
        description="max |softmax(scaled_scores) - the model's own weights|"
    )
    output_max_abs_diff: float = Field(description="max |sum_j w_j v_j - the model's own output|")


class ExplainOut(BaseModel):
    model: str
    stack: Literal["encoder", "decoder"]
    layer: int
    head: int
    tokens: list[str] = Field(description="The tokens at the query positions.")
    key_tokens: list[str] = Field(description="The tokens at the key positions.")
    query_index: int
    query_token: str
    d_k: int = Field(description="Size of one head's query, key and value vectors.")
    scaling: float = Field(description="The factor the model applies to q.k: 1/sqrt(d_k).")
    query_vector: list[float] = Field(description="q = x W_Q for the query token (this head).")
    keys: list[list[float]] = Field(description="K = X W_K, one row per token.")
    values: list[list[float]] = Field(description="V = X W_V, one row per token.")
    scores: list[float] = Field(description="q . k_j for every key j.")
    scaled_scores: list[float | None] = Field(
        description="scores / sqrt(d_k); null where the model masks the key out."
    )
    masked: list[bool]
    weights: list[float] = Field(description="The model's attention row: softmax(scaled_scores).")
    output: list[float] = Field(description="The head's output: sum_j w_j v_j.")
    checks: ExplainChecks


class RoleOut(BaseModel):
    role: Role
    meaning: str = Field(description="What a head with this role does, in a few words.")
    threshold: float = Field(description="The score a head needs for this role.")
    pattern: bool = Field(
        description="A pattern role wins over any resting role (sink, broad) that also passes."
    )
    kinds: list[Kind] = Field(description="The kinds of block this role is scored on.")


class ProbeOut(BaseModel):
    text: str
    target: str | None
    kind: Literal["sentence", "repeat"] = Field(
        description="Sentences score every role but induction; the repeat scores induction."
    )
    links: list[tuple[str, str]] = Field(
        description="(target word, the source text it translates): the alignment score's links."
    )


class HeadRoleOut(BaseModel):
    block: str = Field(examples=["encoder.3.self_attn"])
    stack: Stack
    kind: Kind
    layer: int
    head: int
    role: Role
    score: float | None = Field(description="The score of `role`; null when the role is none.")
    scores: dict[Role, float | None] = Field(
        description="Every score defined on this kind of block; null where no probe row had one."
    )


class HeadRolesOut(BaseModel):
    model: str
    variant: str | None
    fingerprint: str = Field(
        description="Changes with the probes, the scoring code or the weights: a new one is a "
        "new computation."
    )
    roles: list[RoleOut]
    probes: list[ProbeOut] = Field(description="What the model read to score its heads.")
    heads: list[HeadRoleOut] = Field(description="One entry per block, layer and head.")


class GenerateRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [{"model": "smollm2", "text": "The capital of France is"}],
        },
    )

    model: str = Field(
        max_length=64,
        description="A decoder-only model id from GET /api/v1/models (family 'decoder').",
    )
    text: str = Field(min_length=1, description="The prompt. Limits: see max_chars.")
    max_new_tokens: int | None = Field(
        None, ge=1, description="Most tokens to write (capped by the server)."
    )
    encoding: Encoding = Field(
        "float16",
        description=(
            "How each step's rows travel: float16 (base64 of little-endian half floats), uint8 "
            "(base64 of bytes, weight = byte/255) or json (nested lists), row-major "
            "[layer, head, key]."
        ),
    )


class StepTokenOut(BaseModel):
    text: str = Field(description="The token as a person reads it (subword markers stripped).")
    id: int = Field(description="The token id in the model's vocabulary.")
    special: bool = Field(description="A special token: <|im_end|>, </s>, [SEP]...")


class StepOut(BaseModel):
    step: int = Field(description="t: this step writes the (t+1)-th token of the continuation.")
    token: StepTokenOut = Field(description="The token written.")
    query: int = Field(
        description=(
            "The position whose attention row this is: the last one read before writing the "
            "token, P + t - 1 for a prompt of P tokens."
        )
    )
    shape: list[int] = Field(
        description="[layers, heads, keys], keys = query + 1: every position up to the query."
    )
    encoding: Encoding
    data: list[list[list[float]]] | str = Field(
        description="The rows [layer][head][key], each summing to 1, in `encoding`."
    )


class GenerateOut(BaseModel):
    model: str
    prompt: list[StepTokenOut] = Field(description="The prompt's tokens: positions 0..P-1.")
    max_new_tokens: int = Field(
        description=(
            "The most tokens this generation writes: the request's budget, or less where the "
            "model's token limit leaves less room after the prompt."
        )
    )
    steps: list[StepOut] = Field(description="One per token written, in order.")
    output_text: str = Field(description="The continuation, decoded (special tokens left out).")
    tokens: list[StepTokenOut] = Field(description="The prompt's tokens, then those written.")
    stop: Literal["eos", "max_new_tokens", "max_tokens"] = Field(
        description=(
            "Why writing stopped: the model wrote its end-of-sequence token, the budget was "
            "spent, or the model's token limit was reached."
        )
    )


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
    scores: AlignScoresOut | None = Field(None, description="Against `gold`, when given.")
