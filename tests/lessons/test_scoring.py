"""The scoring endpoint, checked against numpy computations written from the formulas."""

from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

URL = "/api/v1/scoring"


def _post(client: TestClient, **body: object) -> dict[str, Any]:
    response = client.post(URL, json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def numpy_additive(queries: np.ndarray, keys: np.ndarray, params: dict[str, Any]) -> np.ndarray:
    """w_v^T tanh(W_q q + W_k k) for every (query, key) pair, one pair at a time."""
    w_q, w_k, w_v = (np.array(params[name]) for name in ("w_q", "w_k", "w_v"))
    return np.array([[w_v @ np.tanh(w_q @ q + w_k @ k) for k in keys] for q in queries])


def numpy_masked_softmax(scores: np.ndarray, valid_lengths: list[int]) -> np.ndarray:
    weights = np.zeros_like(scores)
    for q, length in enumerate(valid_lengths):
        visible = scores[q, :length]
        exps = np.exp(visible - visible.max())
        weights[q, :length] = exps / exps.sum()
    return weights


def check_scorer(scorer: dict[str, Any], scores: np.ndarray, body: dict[str, Any]) -> None:
    lengths = body["valid_lengths"]
    weights = np.array(scorer["weights"])
    assert np.abs(np.array(scorer["scores"]) - scores).max() <= 1e-9
    assert np.abs(weights - numpy_masked_softmax(scores, lengths)).max() <= 1e-9
    assert np.abs(np.array(scorer["output"]) - weights @ np.array(body["values"])).max() <= 1e-12
    for q, length in enumerate(lengths):
        assert scorer["masked_scores"][q][:length] == scorer["scores"][q][:length]
        assert scorer["masked_scores"][q][length:] == [None] * (body["n_keys"] - length)


@pytest.mark.parametrize("valid_length", [None, 6, [1, 10, 4, 7]])
def test_both_scorers_equal_an_independent_numpy_computation(
    client: TestClient, valid_length: int | list[int] | None
) -> None:
    body = _post(client, n_queries=4, n_keys=10, valid_length=valid_length, seed=3)
    queries, keys = np.array(body["queries"]), np.array(body["keys"])
    assert queries.shape == (4, 8) and keys.shape == (10, 8)

    additive = body["additive"]
    check_scorer(additive, numpy_additive(queries, keys, additive["parameters"]), body)
    check_scorer(body["scaled_dot_product"], queries @ keys.T / np.sqrt(8), body)


def test_masked_keys_get_exactly_zero_and_rows_still_sum_to_one(client: TestClient) -> None:
    lengths = [1, 3, 12, 7]
    body = _post(client, n_queries=4, n_keys=12, valid_length=lengths)
    assert body["valid_lengths"] == lengths
    for scorer in (body["additive"], body["scaled_dot_product"]):
        for row, length in zip(scorer["weights"], lengths, strict=True):
            assert row[length:] == [0.0] * (12 - length)  # exactly, not 1e-6
            assert all(weight > 0 for weight in row[:length])
            assert abs(sum(row) - 1) <= 1e-12
    single = _post(client, n_queries=4, n_keys=12, valid_length=5)
    assert single["valid_lengths"] == [5, 5, 5, 5]


def test_different_query_and_key_sizes_leave_only_additive(client: TestClient) -> None:
    body = _post(client, n_queries=3, n_keys=5, query_size=20, key_size=2, hidden_size=6)
    assert body["scaled_dot_product"] is None
    params = body["additive"]["parameters"]
    assert np.array(params["w_q"]).shape == (6, 20)
    assert np.array(params["w_k"]).shape == (6, 2)
    assert np.array(params["w_v"]).shape == (6,)
    assert np.array(body["additive"]["weights"]).shape == (3, 5)


def test_dividing_by_sqrt_d_keeps_the_score_variance_near_one(client: TestClient) -> None:
    body = _post(client, n_queries=16, n_keys=32, query_size=256, key_size=256, seed=1)
    scaled = np.array(body["scaled_dot_product"]["scores"])
    raw = np.array(body["queries"]) @ np.array(body["keys"]).T
    assert 0.75 < scaled.var() < 1.25
    assert 0.75 * 256 < raw.var() < 1.25 * 256


def test_seeded_runs_are_reproducible(client: TestClient) -> None:
    assert _post(client, seed=11) == _post(client, seed=11)
    assert _post(client, seed=11)["queries"] != _post(client, seed=12)["queries"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"valid_length": 11}, "valid_length 11 is out of range: with n_keys = 10 use 1 to 10"),
        ({"valid_length": 0}, "valid_length: 0 is out of range: use 1 to n_keys"),
        ({"valid_length": 33}, "valid_length: 33 is out of range"),
        ({"valid_length": []}, "valid_length: a list needs one length per query"),
        ({"n_keys": 4, "valid_length": [1, 2, 3, 5]}, "valid_length 5 is out of range"),
        ({"valid_length": [1, 2]}, "valid_length lists 2 lengths but there are 4 queries"),
        ({"valid_length": [1, 2, 3, -4]}, "valid_length: -4 is out of range"),
        ({"valid_length": "3"}, "valid_length: must be a whole number"),
        ({"valid_length": 2.5}, "valid_length: must be a whole number"),
        ({"valid_length": True}, "valid_length: must be a whole number"),
        ({"valid_length": [1, "2", 3, 4]}, "valid_length: must be a whole number"),
        ({"n_keys": 0}, "n_keys: Input should be greater than or equal to 1"),
        ({"n_keys": 33}, "n_keys: Input should be less than or equal to 32"),
        ({"n_queries": 17}, "n_queries: Input should be less than or equal to 16"),
        ({"query_size": 257}, "query_size: Input should be less than or equal to 256"),
        ({"hidden_size": 0}, "hidden_size: Input should be greater than or equal to 1"),
        ({"n_queries": "four"}, "n_queries: Input should be a valid integer"),
        ({"seed": -1}, "seed: Input should be greater than or equal to 0"),
        ({"temperature": 2}, "temperature: Extra inputs are not permitted"),
    ],
)
def test_bad_requests_are_422_with_a_message(
    client: TestClient, body: dict[str, object], message: str
) -> None:
    response = client.post(URL, json=body)
    assert response.status_code == 422
    assert message in response.json()["detail"]


def test_openapi_documents_both_lessons_with_examples(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    for path, model in [
        ("/api/v1/scoring", "ScoringRequest"),
        ("/api/v1/kernel-regression", "ParametricRequest"),
        ("/api/v1/kernel-regression", "NonparametricRequest"),
    ]:
        assert {"422", "503"} <= set(schema["paths"][path]["post"]["responses"])
        assert schema["components"]["schemas"][model]["examples"]
    assert "/lessons/scoring" not in schema["paths"]
