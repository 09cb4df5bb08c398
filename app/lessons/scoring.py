"""Two ways to score a query against a key, and the attention they lead to.

Additive:               a(q, k) = w_v^T tanh(W_q q + W_k k)   (q and k may differ in length)
Scaled dot-product:     a(q, k) = q^T k / sqrt(d)             (q and k both of length d)

The scores of one query over all keys go through a masked softmax; the weights then average
the values: output = weights @ values.
"""

import math
from dataclasses import dataclass

import torch

from app.attention.softmax import masked_softmax
from app.lessons.masking import valid_length_mask

DTYPE = torch.float64


@dataclass(frozen=True)
class AdditiveScorer:
    """A one-hidden-layer perceptron with tanh and no biases; its size h is a free choice."""

    w_q: torch.Tensor  # (h, d_q)
    w_k: torch.Tensor  # (h, d_k)
    w_v: torch.Tensor  # (h,)

    @classmethod
    def random(
        cls, query_size: int, key_size: int, hidden_size: int, generator: torch.Generator
    ) -> "AdditiveScorer":
        """Untrained parameters, scaled by 1/sqrt(fan-in) so tanh is not saturated."""

        def normal(*shape: int) -> torch.Tensor:
            fan_in = shape[-1]
            return torch.randn(*shape, generator=generator, dtype=DTYPE) / math.sqrt(fan_in)

        return cls(
            w_q=normal(hidden_size, query_size),
            w_k=normal(hidden_size, key_size),
            w_v=normal(hidden_size),
        )

    def scores(self, queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        """queries (n_q, d_q), keys (n_k, d_k) -> scores (n_q, n_k)."""
        projected_queries = queries @ self.w_q.T  # (n_q, h)
        projected_keys = keys @ self.w_k.T  # (n_k, h)
        # Every query meets every key by broadcasting: one hidden vector per pair.
        pairs = projected_queries[:, None, :] + projected_keys[None, :, :]  # (n_q, n_k, h)
        return torch.tanh(pairs) @ self.w_v  # (n_q, n_k)


def scaled_dot_product_scores(queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    """queries (n_q, d), keys (n_k, d) -> scores (n_q, n_k).

    With independent zero-mean, unit-variance entries q^T k has variance d; dividing by
    sqrt(d) brings it back to 1, so the softmax does not saturate as d grows.
    """
    d = queries.shape[-1]
    if keys.shape[-1] != d:
        raise ValueError(
            f"scaled dot-product needs queries and keys of one length; got {d} and {keys.shape[-1]}"
        )
    return queries @ keys.T / math.sqrt(d)  # (n_q, n_k)


@dataclass(frozen=True)
class Attention:
    scores: torch.Tensor  # (n_q, n_k) before masking
    hidden: torch.Tensor  # (n_q, n_k) True where a key is masked out
    weights: torch.Tensor  # (n_q, n_k) masked softmax of scores; hidden keys exactly 0
    output: torch.Tensor  # (n_q, d_v) weights @ values


def attend(scores: torch.Tensor, hidden: torch.Tensor, values: torch.Tensor) -> Attention:
    """scores (n_q, n_k), hidden (n_q, n_k), values (n_k, d_v)."""
    weights = masked_softmax(scores, hidden=hidden)  # (n_q, n_k)
    return Attention(scores=scores, hidden=hidden, weights=weights, output=weights @ values)


@dataclass(frozen=True)
class Problem:
    queries: torch.Tensor  # (n_q, d_q)
    keys: torch.Tensor  # (n_k, d_k)
    values: torch.Tensor  # (n_k, d_v)
    additive: AdditiveScorer


def random_problem(
    *,
    n_queries: int,
    n_keys: int,
    query_size: int,
    key_size: int,
    value_size: int,
    hidden_size: int,
    seed: int,
) -> Problem:
    """Queries, keys and values drawn from N(0, 1), then the additive scorer's parameters."""
    generator = torch.Generator().manual_seed(seed)
    return Problem(
        queries=torch.randn(n_queries, query_size, generator=generator, dtype=DTYPE),
        keys=torch.randn(n_keys, key_size, generator=generator, dtype=DTYPE),
        values=torch.randn(n_keys, value_size, generator=generator, dtype=DTYPE),
        additive=AdditiveScorer.random(query_size, key_size, hidden_size, generator),
    )


@dataclass(frozen=True)
class Comparison:
    valid_lengths: torch.Tensor  # (n_q,) keys 0..valid_lengths[q]-1 are visible to query q
    additive: Attention
    scaled_dot_product: Attention | None  # None when queries and keys differ in length


def compare(problem: Problem, valid_lengths: torch.Tensor) -> Comparison:
    """Scores the same queries and keys both ways, under the same mask."""
    n_keys = problem.keys.shape[0]
    hidden = valid_length_mask(valid_lengths, n_keys)  # (n_q, n_k)
    queries, keys, values = problem.queries, problem.keys, problem.values
    additive = attend(problem.additive.scores(queries, keys), hidden, values)
    dot_product = None
    if queries.shape[-1] == keys.shape[-1]:
        dot_product = attend(scaled_dot_product_scores(queries, keys), hidden, values)
    return Comparison(valid_lengths, additive=additive, scaled_dot_product=dot_product)
