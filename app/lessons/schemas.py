"""Request and response bodies of the lesson endpoints, as documented in /openapi.json."""

from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)
from pydantic_core import PydanticCustomError

MAX_SEED = 2**31 - 1

Seed = Annotated[
    int, Field(ge=0, le=MAX_SEED, description="Random seed: the same seed, the same numbers.")
]

# ---------------------------------------------------------------- kernel regression


class _KernelRegressionData(BaseModel):
    n_train: int = Field(
        50, ge=5, le=500, description="Training points (keys and values), x uniform on [0, 5)."
    )
    seed: Seed = 0


class NonparametricRequest(_KernelRegressionData):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={"examples": [{"kind": "nonparametric", "n_train": 50, "seed": 0}]},
    )

    kind: Literal["nonparametric"] = Field(description="w = 1: nothing is learned.")

    @model_validator(mode="before")
    @classmethod
    def _nothing_to_train(cls, data: Any) -> Any:
        # Clearer than the generic "extra inputs are not permitted" for this common slip.
        given = [
            name for name in ("epochs", "learning_rate") if isinstance(data, dict) and name in data
        ]
        if given:
            raise PydanticCustomError(
                "parametric_only",
                "{fields} only apply to kind 'parametric' (the non-parametric model has "
                "nothing to train); remove them or set kind to 'parametric'",
                {"fields": " and ".join(given)},
            )
        return data


class ParametricRequest(_KernelRegressionData):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [{"kind": "parametric", "n_train": 50, "seed": 0, "epochs": 30}]
        },
    )

    kind: Literal["parametric"] = Field(description="w is learned by gradient descent.")
    epochs: int = Field(30, ge=1, le=100, description="Gradient-descent steps.")
    learning_rate: float = Field(2.0, gt=0, le=20, description="SGD step size.")


KernelRegressionRequest = Annotated[
    NonparametricRequest | ParametricRequest, Field(discriminator="kind")
]


class EpochOut(BaseModel):
    epoch: int = Field(description="0 is the start (w = 1, the non-parametric model).")
    w: float
    loss: float = Field(description="Leave-one-out mean squared error on the training points.")
    y_pred: list[float] = Field(description="Prediction on x_test at this w.")


class KernelRegressionOut(BaseModel):
    kind: Literal["nonparametric", "parametric"]
    n_train: int
    seed: int
    epochs: int | None = Field(description="Parametric only: the steps taken.")
    learning_rate: float | None = Field(description="Parametric only: the SGD step size.")
    w: float = Field(description="The kernel's scale: 1 for nonparametric, learned otherwise.")
    x_train: list[float] = Field(description="Training inputs, sorted: the keys.")
    y_train: list[float] = Field(description="Training outputs f(x) + noise: the values.")
    x_test: list[float] = Field(description="Test inputs, an even grid on [0, 5): the queries.")
    y_true: list[float] = Field(description="f(x_test) = 2 sin(x) + x^0.8, without noise.")
    y_pred: list[float] = Field(description="weights @ y_train.")
    weights: list[list[float]] = Field(
        description="[n_test][n_train]: softmax over i of -((x - x_i) w)^2 / 2; rows sum to 1."
    )
    history: list[EpochOut] = Field(
        description="Parametric only (else empty): the state before training and after each epoch."
    )


# ---------------------------------------------------------------- scoring functions


MAX_QUERIES = 16
MAX_KEYS = 32

KeyCount = Annotated[int, Field(ge=1, le=MAX_KEYS)]


def _valid_length_shape(value: Any) -> Any:
    """Checks what the schema states, with one message each instead of one per union branch.

    How valid_length relates to n_keys and n_queries is checked on the whole request.
    """
    if value is None:
        return value
    items = value if isinstance(value, list) else [value]
    if not all(type(item) is int for item in items):
        raise PydanticCustomError(
            "valid_length_type", "must be a whole number, or a list with one per query"
        )
    if isinstance(value, list) and not 1 <= len(value) <= MAX_QUERIES:
        raise PydanticCustomError(
            "valid_length_count",
            "a list needs one length per query (1 to {max_queries} of them)",
            {"max_queries": MAX_QUERIES},
        )
    for item in items:
        if not 1 <= item <= MAX_KEYS:
            raise PydanticCustomError(
                "valid_length_range",
                "{value} is out of range: use 1 to n_keys (and n_keys is at most {max_keys})",
                {"value": item, "max_keys": MAX_KEYS},
            )
    return value


ValidLength = Annotated[
    KeyCount | Annotated[list[KeyCount], Field(min_length=1, max_length=MAX_QUERIES)] | None,
    BeforeValidator(_valid_length_shape),
]


class ScoringRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [
                {"n_queries": 4, "n_keys": 10, "valid_length": 6},
                {"n_queries": 2, "n_keys": 5, "valid_length": [2, 4], "seed": 7},
                {"n_queries": 3, "n_keys": 6, "query_size": 20, "key_size": 2, "hidden_size": 8},
            ]
        },
    )

    n_queries: int = Field(4, ge=1, le=MAX_QUERIES, description="Number of queries (rows).")
    n_keys: int = Field(10, ge=1, le=MAX_KEYS, description="Number of keys and values (columns).")
    query_size: int = Field(8, ge=1, le=256, description="Length d_q of each query vector.")
    key_size: int = Field(
        8,
        ge=1,
        le=256,
        description="Length d_k of each key. Scaled dot-product needs d_k = d_q; "
        "additive attention does not.",
    )
    value_size: int = Field(4, ge=1, le=16, description="Length of each value vector.")
    hidden_size: int = Field(8, ge=1, le=64, description="Hidden units h of the additive scorer.")
    valid_length: ValidLength = Field(
        None,
        description="Keys at index >= valid_length are masked out (weight exactly 0). "
        "One number for every query, or a list with one per query; left out: every key is valid.",
    )
    seed: Seed = 0

    @model_validator(mode="after")
    def _valid_length_fits(self) -> Self:
        lengths = self.valid_length
        if isinstance(lengths, list) and len(lengths) != self.n_queries:
            raise PydanticCustomError(
                "valid_length_count",
                "valid_length lists {given} lengths but there are {n_queries} queries: give one "
                "per query, or a single number for all",
                {"given": len(lengths), "n_queries": self.n_queries},
            )
        for length in self.valid_lengths():
            if length > self.n_keys:
                raise PydanticCustomError(
                    "valid_length_range",
                    "valid_length {value} is out of range: with n_keys = {n_keys} use 1 to "
                    "{n_keys} (at least one key must stay visible)",
                    {"value": length, "n_keys": self.n_keys},
                )
        return self

    def valid_lengths(self) -> list[int]:
        """One valid length per query."""
        if self.valid_length is None:
            return [self.n_keys] * self.n_queries
        if isinstance(self.valid_length, int):
            return [self.valid_length] * self.n_queries
        return list(self.valid_length)


Matrix = list[list[float]]


class ScorerOut(BaseModel):
    formula: str
    scores: Matrix = Field(description="[n_queries][n_keys] raw scores a(q, k).")
    masked_scores: list[list[float | None]] = Field(
        description="The scores the softmax sees: null where the key is masked (it enters as -inf)."
    )
    weights: Matrix = Field(
        description="[n_queries][n_keys] masked softmax of the scores: masked keys exactly 0, "
        "each row sums to 1."
    )
    output: Matrix = Field(description="[n_queries][value_size] weights @ values.")


class AdditiveParametersOut(BaseModel):
    w_q: Matrix = Field(description="[hidden_size][query_size]")
    w_k: Matrix = Field(description="[hidden_size][key_size]")
    w_v: list[float] = Field(description="[hidden_size]")


class AdditiveOut(ScorerOut):
    parameters: AdditiveParametersOut = Field(
        description="Random (untrained), scaled by 1/sqrt(fan-in); drawn after the inputs."
    )


class ScoringOut(BaseModel):
    seed: int
    n_queries: int
    n_keys: int
    query_size: int
    key_size: int
    value_size: int
    hidden_size: int
    valid_lengths: list[int] = Field(description="Per query: keys 0..valid_length-1 are visible.")
    queries: Matrix = Field(description="[n_queries][query_size], drawn from N(0, 1).")
    keys: Matrix = Field(description="[n_keys][key_size], drawn from N(0, 1).")
    values: Matrix = Field(description="[n_keys][value_size], drawn from N(0, 1).")
    additive: AdditiveOut
    scaled_dot_product: ScorerOut | None = Field(
        description="null when query_size != key_size: a dot product needs vectors of one length."
    )
