"""The models a server offers (GET /api/v1/models) and what their heads do
(GET /api/v1/models/{id}/heads)."""

from typing import Literal

from pydantic import BaseModel, Field

from app.attention.analysis import Aggregate, Weighting
from app.attention.names import Kind, Stack
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
