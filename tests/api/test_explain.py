import math

import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.conftest import DEMO_SENTENCE

REQUEST = {"model": "minilm", "text": DEMO_SENTENCE, "layer": 3, "head": 5, "query": "it"}


@pytest.fixture(scope="module")
def steps(client: TestClient) -> dict:
    response = client.post("/api/v1/explain", json=REQUEST)
    assert response.status_code == 200, response.text
    return response.json()


def test_each_step_follows_from_the_one_before(steps: dict) -> None:
    # An independent computation in float64 numpy from the returned q, K, V.
    q = np.array(steps["query_vector"])
    keys = np.array(steps["keys"])
    values = np.array(steps["values"])
    n = len(steps["tokens"])
    assert steps["query_token"] == "it"
    assert steps["tokens"][steps["query_index"]] == "it"
    assert steps["d_k"] == 384 // 12 == q.shape[0]
    assert keys.shape == values.shape == (n, 32)

    scores = keys @ q
    scaled = scores / math.sqrt(steps["d_k"])
    weights = np.exp(scaled - scaled.max())
    weights /= weights.sum()
    output = weights @ values
    assert np.abs(np.array(steps["scores"]) - scores).max() <= 1e-3
    assert np.abs(np.array(steps["scaled_scores"]) - scaled).max() <= 1e-3
    assert np.abs(np.array(steps["weights"]) - weights).max() <= 1e-3
    assert np.abs(np.array(steps["output"]) - output).max() <= 1e-3
    assert steps["checks"]["weights_max_abs_diff"] <= 1e-5
    assert steps["checks"]["output_max_abs_diff"] <= 1e-5


def test_weights_equal_the_attention_row(client: TestClient, steps: dict) -> None:
    response = client.post(
        "/api/v1/attention",
        json={"model": "minilm", "text": DEMO_SENTENCE, "layers": [3], "heads": [5]},
    )
    row = response.json()["blocks"][0]["data"][0][steps["query_index"]]
    assert np.abs(np.array(steps["weights"]) - np.array(row)).max() <= 1e-4


def test_query_by_index_gives_the_same_head(client: TestClient, steps: dict) -> None:
    by_index = client.post("/api/v1/explain", json={**REQUEST, "query": steps["query_index"]})
    assert by_index.json()["weights"] == steps["weights"]


@pytest.mark.parametrize(
    ("change", "status", "phrase"),
    [
        ({"query": "zebra"}, 422, "no token reads 'zebra'"),
        ({"query": 15}, 422, "tokens 0-14"),
        ({"query": True}, 422, "query"),
        ({"layer": 6}, 422, "layers 0-5"),
        ({"head": 12}, 422, "heads 0-11"),
        ({"layer": -1}, 422, "layer"),
        ({"stack": "decoder"}, 422, "one stack"),
        ({"model": "tiny-gpt2"}, 422, "does not offer the step-by-step view"),
        ({"model": "nope"}, 404, "unknown model"),
    ],
)
def test_bad_explain_requests(client: TestClient, change: dict, status: int, phrase: str) -> None:
    response = client.post("/api/v1/explain", json={**REQUEST, **change})
    assert response.status_code == status, response.text
    assert phrase in response.json()["detail"]


def test_models_say_which_are_explainable(client: TestClient) -> None:
    models = {m["id"]: m for m in client.get("/api/v1/models").json()["models"]}
    assert models["minilm"]["explainable"] is True
    assert models["tiny-bert"]["explainable"] is True
    assert models["tiny-gpt2"]["explainable"] is False
