"""POST /api/v1/generate: greedy generation, each step with its attention row."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.attention.ops.encode import Encoding


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
