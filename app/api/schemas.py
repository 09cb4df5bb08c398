"""Request and response bodies of the REST API, as documented in /openapi.json."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

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


class ModelsOut(BaseModel):
    models: list[ModelOut]


class AttentionRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
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
    shape: list[int] = Field(description="[heads, queries, keys]")
    data: list[list[list[float]]] = Field(
        description="Attention weights [head][query][key]; each row sums to 1."
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
