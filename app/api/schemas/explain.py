"""POST /api/v1/explain: one head's self-attention step by step."""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints


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
