"""Nadaraya-Watson kernel regression, read as attention pooling.

The test inputs x are the queries, the training inputs x_i the keys, the training outputs y_i
the values. A Gaussian kernel scores each key and a softmax turns the scores into weights:

    f(x) = sum_i softmax_i(-((x - x_i) * w)^2 / 2) * y_i

w = 1 is the classic non-parametric estimator. The parametric version learns the scalar w by
gradient descent; w > 1 narrows the kernel (sharper weights), w < 1 widens it.
"""

from dataclasses import dataclass

import torch

from app.attention.softmax import masked_softmax
from app.zoo.cancel import check_cancelled
from app.zoo.yielding import yield_point

DTYPE = torch.float64
X_MAX = 5.0  # inputs lie in [0, X_MAX)
NOISE_SD = 0.5  # standard deviation of the Gaussian noise on the training outputs
TEST_STEP = 0.1  # spacing of the test grid


def true_function(x: torch.Tensor) -> torch.Tensor:
    """The curve the training points are sampled from: 2 sin(x) + x^0.8."""
    return 2 * torch.sin(x) + x**0.8


@dataclass(frozen=True)
class Dataset:
    x_train: torch.Tensor  # (n_train,) sorted, uniform on [0, X_MAX): the keys
    y_train: torch.Tensor  # (n_train,) f(x_train) + noise: the values
    x_test: torch.Tensor  # (n_test,) an even grid on [0, X_MAX): the queries
    y_true: torch.Tensor  # (n_test,) f(x_test), without noise


def make_dataset(n_train: int, seed: int) -> Dataset:
    """The same seed always gives the same points."""
    generator = torch.Generator().manual_seed(seed)
    x_train = torch.sort(torch.rand(n_train, generator=generator, dtype=DTYPE) * X_MAX).values
    noise = torch.randn(n_train, generator=generator, dtype=DTYPE) * NOISE_SD
    n_test = round(X_MAX / TEST_STEP)
    x_test = torch.arange(n_test, dtype=DTYPE) * TEST_STEP
    return Dataset(
        x_train=x_train,
        y_train=true_function(x_train) + noise,
        x_test=x_test,
        y_true=true_function(x_test),
    )


def kernel_weights(
    queries: torch.Tensor, keys: torch.Tensor, w: torch.Tensor, *, leave_self_out: bool = False
) -> torch.Tensor:
    """softmax over keys of -((x - x_i) * w)^2 / 2.

    queries: (n_q,), keys: (n_k,), w: a scalar tensor. Returns (n_q, n_k); each row sums to 1.
    leave_self_out (queries are the keys): key i gets exactly zero weight from query i.
    """
    scores = -(((queries[:, None] - keys[None, :]) * w) ** 2) / 2  # (n_q, n_k)
    hidden = torch.zeros_like(scores, dtype=torch.bool)  # (n_q, n_k)
    if leave_self_out:
        hidden = torch.eye(len(queries), len(keys), dtype=torch.bool)  # (n_q, n_k)
    return masked_softmax(scores, hidden=hidden)


@dataclass(frozen=True)
class Epoch:
    epoch: int  # 0 is the starting point, before any update
    w: float
    loss: float  # leave-one-out mean squared error on the training points at this w
    y_pred: torch.Tensor  # (n_test,) the prediction on the test grid at this w


@dataclass(frozen=True)
class Fit:
    data: Dataset
    w: float
    weights: torch.Tensor  # (n_test, n_train)
    y_pred: torch.Tensor  # (n_test,) = weights @ y_train
    history: list[Epoch]  # empty for the non-parametric fit


def predict(data: Dataset, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The weights (n_test, n_train) and the prediction (n_test,) they pool from y_train."""
    weights = kernel_weights(data.x_test, data.x_train, w)  # (n_test, n_train)
    return weights, weights @ data.y_train  # (n_test,)


def fit_nonparametric(data: Dataset) -> Fit:
    weights, y_pred = predict(data, torch.tensor(1.0, dtype=DTYPE))
    return Fit(data=data, w=1.0, weights=weights, y_pred=y_pred, history=[])


def leave_one_out_loss(data: Dataset, w: torch.Tensor) -> torch.Tensor:
    """Mean squared error of predicting each y_i from the OTHER training points.

    Letting a point see itself would make the best w infinite: each x_i would attend only to
    itself and reproduce its own noisy y_i exactly.
    """
    weights = kernel_weights(data.x_train, data.x_train, w, leave_self_out=True)  # (n, n)
    return ((weights @ data.y_train - data.y_train) ** 2).mean()


def fit_parametric(
    data: Dataset, *, epochs: int, learning_rate: float, w_start: float = 1.0
) -> Fit:
    """Full-batch gradient descent (torch.optim.SGD) on the leave-one-out loss.

    Starts at w_start (1: the non-parametric model), so history[0] is that model.
    """
    w = torch.tensor(w_start, dtype=DTYPE, requires_grad=True)
    optimizer = torch.optim.SGD([w], lr=learning_rate)

    def snapshot(epoch: int, loss: torch.Tensor) -> Epoch:
        with torch.no_grad():
            _, y_pred = predict(data, w)
        return Epoch(epoch=epoch, w=w.item(), loss=loss.item(), y_pred=y_pred)

    history = []
    loss = leave_one_out_loss(data, w)
    for epoch in range(epochs):
        check_cancelled()  # its client left: stop training for nobody
        yield_point(None)  # short work waiting runs between epochs (it uses no model)
        history.append(snapshot(epoch, loss))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        loss = leave_one_out_loss(data, w)
    history.append(snapshot(epochs, loss))

    with torch.no_grad():
        weights, y_pred = predict(data, w)
    return Fit(data=data, w=w.item(), weights=weights, y_pred=y_pred, history=history)
