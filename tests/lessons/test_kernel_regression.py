"""The kernel regression endpoint, checked against numpy computations written from the formula."""

from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

URL = "/api/v1/kernel-regression"
KINDS = ["nonparametric", "parametric"]


def _post(client: TestClient, **body: object) -> dict[str, Any]:
    response = client.post(URL, json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def numpy_weights(queries: np.ndarray, keys: np.ndarray, w: float) -> np.ndarray:
    """softmax over i of -((x - x_i) w)^2 / 2, for every query x (rows) and key x_i (columns)."""
    scores = -(((queries[:, None] - keys[None, :]) * w) ** 2) / 2
    exps = np.exp(scores - scores.max(axis=1, keepdims=True))
    return exps / exps.sum(axis=1, keepdims=True)


def numpy_leave_one_out_loss(x: np.ndarray, y: np.ndarray, w: float) -> float:
    """Each y_i predicted from every other training point; mean squared error."""
    predictions = []
    for i in range(len(x)):
        others = np.arange(len(x)) != i
        weights = numpy_weights(x[i : i + 1], x[others], w)[0]
        predictions.append(weights @ y[others])
    return float(np.mean((np.array(predictions) - y) ** 2))


def entropy(weights: np.ndarray) -> float:
    """Mean entropy of the rows, in nats: lower is sharper."""
    safe = np.where(weights > 0, weights, 1.0)
    return float(-(weights * np.log(safe)).sum(axis=1).mean())


@pytest.fixture(scope="module")
def fits(client: TestClient) -> dict[str, dict[str, Any]]:
    return {kind: _post(client, kind=kind) for kind in KINDS}


@pytest.mark.parametrize("kind", KINDS)
def test_weights_equal_an_independent_numpy_softmax(
    fits: dict[str, dict[str, Any]], kind: str
) -> None:
    fit = fits[kind]
    x_train, x_test = np.array(fit["x_train"]), np.array(fit["x_test"])
    weights = np.array(fit["weights"])

    assert weights.shape == (50, 50)
    assert np.abs(weights - numpy_weights(x_test, x_train, fit["w"])).max() <= 1e-6
    assert np.abs(weights.sum(axis=1) - 1).max() <= 1e-12
    assert np.abs(weights @ np.array(fit["y_train"]) - np.array(fit["y_pred"])).max() <= 1e-12


@pytest.mark.parametrize("kind", KINDS)
def test_data_follow_the_lesson(fits: dict[str, dict[str, Any]], kind: str) -> None:
    fit = fits[kind]
    x_train, y_train = np.array(fit["x_train"]), np.array(fit["y_train"])
    x_test = np.array(fit["x_test"])

    assert len(x_train) == 50
    assert np.all(np.diff(x_train) >= 0)
    assert x_train.min() >= 0 and x_train.max() < 5
    assert np.allclose(x_test, np.arange(50) * 0.1)
    truth = 2 * np.sin(x_test) + x_test**0.8
    assert np.abs(np.array(fit["y_true"]) - truth).max() <= 1e-12
    noise = y_train - (2 * np.sin(x_train) + x_train**0.8)
    assert 0.3 < noise.std() < 0.7  # Gaussian noise with standard deviation 0.5


def test_nonparametric_has_w_one_and_no_training(fits: dict[str, dict[str, Any]]) -> None:
    fit = fits["nonparametric"]
    assert fit["w"] == 1.0
    assert fit["history"] == []
    assert fit["epochs"] is None and fit["learning_rate"] is None


def test_parametric_training_lowers_the_leave_one_out_loss(
    fits: dict[str, dict[str, Any]],
) -> None:
    fit = fits["parametric"]
    history = fit["history"]
    x_train, y_train = np.array(fit["x_train"]), np.array(fit["y_train"])

    assert fit["epochs"] == 30 and [e["epoch"] for e in history] == list(range(31))
    assert history[0]["w"] == 1.0  # training starts from the non-parametric model
    assert history[-1]["w"] == fit["w"] and abs(fit["w"] - 1) > 0.5
    assert history[-1]["loss"] < history[0]["loss"] - 0.1
    assert history[-1]["y_pred"] == fit["y_pred"]
    # The reported losses and per-epoch predictions are the real ones at each epoch's w.
    for epoch in (history[0], history[7], history[-1]):
        expected = numpy_leave_one_out_loss(x_train, y_train, epoch["w"])
        assert abs(epoch["loss"] - expected) <= 1e-9
        frame = numpy_weights(np.array(fit["x_test"]), x_train, epoch["w"]) @ y_train
        assert np.abs(np.array(epoch["y_pred"]) - frame).max() <= 1e-9


def test_learned_w_above_one_makes_the_weights_sharper(fits: dict[str, dict[str, Any]]) -> None:
    parametric = np.array(fits["parametric"]["weights"])
    nonparametric = np.array(fits["nonparametric"]["weights"])
    assert fits["parametric"]["w"] > 1
    assert parametric.max(axis=1).mean() > 1.5 * nonparametric.max(axis=1).mean()
    assert entropy(parametric) < entropy(nonparametric) - 0.5


def test_seeded_runs_are_reproducible(client: TestClient) -> None:
    body = {"kind": "parametric", "n_train": 20, "seed": 7, "epochs": 5}
    first, again = _post(client, **body), _post(client, **body)
    other = _post(client, **{**body, "seed": 8})
    assert first == again
    assert first["x_train"] != other["x_train"]
    assert len(first["x_train"]) == 20 and np.array(first["weights"]).shape == (50, 20)


def test_learning_rate_and_epochs_are_used(client: TestClient) -> None:
    slow = _post(client, kind="parametric", epochs=3, learning_rate=0.1)
    fast = _post(client, kind="parametric", epochs=3, learning_rate=4.0)
    assert len(slow["history"]) == 4 and slow["learning_rate"] == 0.1
    assert abs(slow["w"] - 1) < abs(fast["w"] - 1)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "Unable to extract tag using discriminator 'kind'"),
        ({"kind": "gaussian"}, "does not match any of the expected tags: 'nonparametric', 'p"),
        ({"kind": "parametric", "n_train": 4}, "n_train: Input should be greater than or equal"),
        ({"kind": "parametric", "n_train": 501}, "n_train: Input should be less than or equal"),
        ({"kind": "parametric", "n_train": "50"}, "n_train: Input should be a valid integer"),
        ({"kind": "parametric", "n_train": 50.5}, "n_train: Input should be a valid integer"),
        ({"kind": "parametric", "seed": -1}, "seed: Input should be greater than or equal to 0"),
        ({"kind": "parametric", "epochs": 0}, "epochs: Input should be greater than or equal to 1"),
        ({"kind": "parametric", "epochs": 101}, "epochs: Input should be less than or equal"),
        ({"kind": "parametric", "learning_rate": 0}, "learning_rate: Input should be greater than"),
        ({"kind": "nonparametric", "epochs": 5}, "epochs only apply to kind 'parametric'"),
        ({"kind": "parametric", "learning_rate": "fast"}, "learning_rate: Input should be a valid"),
        ({"kind": "nonparametric", "bandwidth": 2}, "bandwidth: Extra inputs are not permitted"),
    ],
)
def test_bad_requests_are_422_with_a_message(
    client: TestClient, body: dict[str, object], message: str
) -> None:
    response = client.post(URL, json=body)
    assert response.status_code == 422
    assert message in response.json()["detail"]
