"""Request and response bodies of the REST API, as documented in /openapi.json."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.attention.encodings import Encoding

MODEL_ID_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"


class ExampleOut(BaseModel):
    text: str
    target: str | None = None


class ModelOut(BaseModel):
    id: str = Field(examples=["minilm"])
    name: str
    family: Literal["encoder", "decoder", "encoder-decoder"]
    layers: int = Field(description="Layers per stack (encoder and decoder are counted apart).")
    heads: int = Field(description="Attention heads per layer.")
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


class ModelsOut(BaseModel):
    models: list[ModelOut]


class AttentionRequest(BaseModel):
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
            ]
        },
    )

    model: str = Field(
        pattern=MODEL_ID_PATTERN,
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
    layers: list[int] | None = Field(
        None,
        max_length=256,
        description="Only these layer indices (all stacks); all layers when left out.",
    )
    heads: list[int] | None = Field(
        None, max_length=256, description="Only these head indices; all heads when left out."
    )
    variant: str | None = Field(
        None,
        max_length=32,
        description="One of the model's variants (e.g. a Luong scorer); the default when left out.",
    )
    max_new_tokens: int | None = Field(
        None,
        ge=1,
        description="Most tokens to generate when no target is given (capped by the server).",
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


class TokensOut(BaseModel):
    source: list[str] = Field(description="Encoder tokens: the keys of cross-attention.")
    target: list[str] = Field(
        description="Decoder query rows: for a translator, the token emitted at each step."
    )
    target_input: list[str] = Field(
        description="What the decoder read at each step: the keys of decoder self-attention."
    )


class BlockOut(BaseModel):
    name: str = Field(examples=["encoder.0.self_attn"], description="{stack}.{layer}.{kind}")
    stack: Literal["encoder", "decoder"]
    layer: int
    kind: Literal["self_attn", "cross_attn"]
    heads: list[int] = Field(description="The model's head index of each entry along axis 0.")
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


class AttentionOut(BaseModel):
    model: str
    variant: str | None
    tokens: TokensOut
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

    model: str = Field(pattern=MODEL_ID_PATTERN, max_length=64)
    text: str = Field(min_length=1)
    layer: int = Field(ge=0)
    head: int = Field(ge=0)
    query: int | str = Field(
        description="The query token: its index in the tokens, or its text (the first match).",
    )
    stack: Literal["encoder", "decoder"] | None = Field(
        None, description="Which self-attention to open; the model's first stack when left out."
    )
    target: str | None = Field(
        None, min_length=1, description="Translators: the target to force, for the decoder stack."
    )
    variant: str | None = Field(None, max_length=32)


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
