"""The lessons: Nadaraya-Watson attention pooling and attention scoring functions.

Each lesson is a page and an endpoint; the page draws exactly the numbers the endpoint returns.
"""

from typing import Any

import torch
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.api.deps import GateDep
from app.api.errors import ERROR_RESPONSES
from app.api.strict_json import StrictJSONRoute
from app.api.templates import render_page
from app.lessons import kernel_regression as nw
from app.lessons import scoring
from app.lessons.schemas import (
    AdditiveOut,
    AdditiveParametersOut,
    EpochOut,
    KernelRegressionOut,
    KernelRegressionRequest,
    ParametricRequest,
    ScorerOut,
    ScoringOut,
    ScoringRequest,
)

router = APIRouter(tags=["lessons"], route_class=StrictJSONRoute)

# No model is involved, so no 404; everything else a POST can meet.
LESSON_ERRORS: dict[int | str, dict[str, Any]] = {
    code: ERROR_RESPONSES[code] for code in (413, 415, 422, 429, 503)
}

ADDITIVE_FORMULA = "a(q, k) = w_v^T tanh(W_q q + W_k k)"
DOT_PRODUCT_FORMULA = "a(q, k) = q^T k / sqrt(d)"


def _floats(tensor: torch.Tensor) -> list[float]:
    values: list[float] = tensor.tolist()
    return values


def _rows(tensor: torch.Tensor) -> list[list[float]]:
    rows: list[list[float]] = tensor.tolist()
    return rows


@router.post(
    "/api/v1/kernel-regression",
    summary="Nadaraya-Watson kernel regression as attention pooling",
    description=(
        "Training inputs x_i are the keys, training outputs y_i the values, an even grid of "
        "test inputs x the queries. weights[q][i] = softmax over i of -((x_q - x_i) w)^2 / 2 and "
        "y_pred = weights @ y_train. For kind 'parametric' the scalar w is learned by full-batch "
        "gradient descent on a leave-one-out loss (each training point is predicted from the "
        "others), starting from w = 1; `history` holds every epoch."
    ),
    responses=LESSON_ERRORS,
)
async def kernel_regression(request: KernelRegressionRequest, gate: GateDep) -> KernelRegressionOut:
    # Training is CPU-bound torch work: it takes a slot of the same gate as model runs.
    return await gate.run(lambda: _kernel_regression(request))


def _kernel_regression(request: KernelRegressionRequest) -> KernelRegressionOut:
    data = nw.make_dataset(request.n_train, request.seed)
    epochs = learning_rate = None
    if isinstance(request, ParametricRequest):
        epochs, learning_rate = request.epochs, request.learning_rate
        fit = nw.fit_parametric(data, epochs=epochs, learning_rate=learning_rate)
    else:
        fit = nw.fit_nonparametric(data)
    return KernelRegressionOut(
        kind=request.kind,
        n_train=request.n_train,
        seed=request.seed,
        epochs=epochs,
        learning_rate=learning_rate,
        w=fit.w,
        x_train=_floats(data.x_train),
        y_train=_floats(data.y_train),
        x_test=_floats(data.x_test),
        y_true=_floats(data.y_true),
        y_pred=_floats(fit.y_pred),
        weights=_rows(fit.weights),
        history=[
            EpochOut(epoch=e.epoch, w=e.w, loss=e.loss, y_pred=_floats(e.y_pred))
            for e in fit.history
        ],
    )


def _scorer_out(formula: str, attention: scoring.Attention) -> dict[str, object]:
    scores = _rows(attention.scores)
    hidden: list[list[bool]] = attention.hidden.tolist()
    return {
        "formula": formula,
        "scores": scores,
        # JSON has no -inf: a masked score travels as null.
        "masked_scores": [
            [None if is_hidden else score for score, is_hidden in zip(row, mask, strict=True)]
            for row, mask in zip(scores, hidden, strict=True)
        ],
        "weights": _rows(attention.weights),
        "output": _rows(attention.output),
    }


@router.post(
    "/api/v1/scoring",
    summary="Additive vs scaled dot-product attention on the same queries and keys",
    description=(
        "Random queries, keys and values (seeded) are scored two ways: additive, "
        f"`{ADDITIVE_FORMULA}` with random untrained parameters, and scaled dot-product, "
        f"`{DOT_PRODUCT_FORMULA}`. Keys at index >= valid_length are masked: their scores enter "
        "the softmax as -inf, so their weight is exactly 0 and each row still sums to 1."
    ),
    responses=LESSON_ERRORS,
)
async def scoring_functions(request: ScoringRequest, gate: GateDep) -> ScoringOut:
    return await gate.run(lambda: _scoring_functions(request))


def _scoring_functions(request: ScoringRequest) -> ScoringOut:
    problem = scoring.random_problem(
        n_queries=request.n_queries,
        n_keys=request.n_keys,
        query_size=request.query_size,
        key_size=request.key_size,
        value_size=request.value_size,
        hidden_size=request.hidden_size,
        seed=request.seed,
    )
    valid_lengths = torch.tensor(request.valid_lengths())  # (n_q,)
    result = scoring.compare(problem, valid_lengths)
    dot_product = result.scaled_dot_product
    return ScoringOut(
        seed=request.seed,
        n_queries=request.n_queries,
        n_keys=request.n_keys,
        query_size=request.query_size,
        key_size=request.key_size,
        value_size=request.value_size,
        hidden_size=request.hidden_size,
        valid_lengths=request.valid_lengths(),
        queries=_rows(problem.queries),
        keys=_rows(problem.keys),
        values=_rows(problem.values),
        additive=AdditiveOut.model_validate(
            {
                **_scorer_out(ADDITIVE_FORMULA, result.additive),
                "parameters": AdditiveParametersOut(
                    w_q=_rows(problem.additive.w_q),
                    w_k=_rows(problem.additive.w_k),
                    w_v=_floats(problem.additive.w_v),
                ),
            }
        ),
        scaled_dot_product=(
            None
            if dot_product is None
            else ScorerOut.model_validate(_scorer_out(DOT_PRODUCT_FORMULA, dot_product))
        ),
    )


@router.get("/lessons/kernel-regression", response_class=HTMLResponse, include_in_schema=False)
def kernel_regression_page(request: Request) -> HTMLResponse:
    return render_page(request, "lessons/kernel_regression.html")


@router.get("/lessons/scoring", response_class=HTMLResponse, include_in_schema=False)
def scoring_page(request: Request) -> HTMLResponse:
    return render_page(request, "lessons/scoring.html")
