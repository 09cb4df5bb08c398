"""Every head-role score on small hand-made heads whose answer is known."""

import math
from typing import get_args

import numpy as np
import pytest

from app.attention import roles

N = 5


def _heads(*matrices: np.ndarray) -> np.ndarray:
    return np.stack(matrices).astype(np.float32)


def _previous_token(n: int = N) -> np.ndarray:
    a = np.zeros((n, n))
    a[0, 0] = 1
    a[np.arange(1, n), np.arange(n - 1)] = 1
    return a


def _uniform(n: int = N, causal: bool = False) -> np.ndarray:
    a = np.tril(np.ones((n, n))) if causal else np.ones((n, n))
    return a / a.sum(axis=1, keepdims=True)


def _on_first(n: int = N) -> np.ndarray:
    a = np.zeros((n, n))
    a[:, 0] = 1
    return a


def test_a_pure_previous_token_head_scores_one_and_the_diagonal_zero() -> None:
    attention = _heads(_previous_token(), np.eye(N))
    assert roles.previous_token_scores(attention).tolist() == [1.0, 0.0]
    # Its row 0 has no previous token and reads itself; causal, that row had no choice.
    assert roles.self_scores(attention, causal=True).tolist() == [0.0, 1.0]
    assert roles.self_scores(attention, causal=False) == pytest.approx([1 / N, 1.0])


def test_self_leaves_out_a_causal_first_row_that_had_no_choice() -> None:
    # Row 0 of a causal head sees only itself: counting it would give a sink head 1/N self.
    attention = _heads(_on_first(), np.eye(N))
    assert roles.self_scores(attention, causal=True).tolist() == [0.0, 1.0]
    assert roles.self_scores(attention, causal=False).tolist() == [pytest.approx(1 / N), 1.0]


def test_a_uniform_head_has_normalized_entropy_one_even_when_causal() -> None:
    assert roles.broad_scores(_heads(_uniform()), causal=False) == pytest.approx([1.0])
    # Row i of a causal head sees i + 1 keys: spread evenly over them is as broad as it gets.
    assert roles.broad_scores(_heads(_uniform(causal=True)), causal=True) == pytest.approx([1.0])


def test_a_head_on_one_key_has_entropy_zero_and_half_of_four_keys_half() -> None:
    half = np.tile([0.5, 0.5, 0.0, 0.0], (4, 1))
    scores = roles.broad_scores(_heads(np.eye(4), half), causal=False)
    assert scores == pytest.approx([0.0, math.log(2) / math.log(4)])


def test_sink_counts_the_first_position_and_special_tokens() -> None:
    last = np.zeros((N, N))
    last[:, -1] = 1
    attention = _heads(_on_first(), last, _uniform())
    first = np.arange(N) == 0
    assert roles.sink_scores(attention, first, causal=False) == pytest.approx([1.0, 0.0, 1 / N])
    special = first | (np.arange(N) == N - 1)
    assert roles.sink_scores(attention, special, causal=False) == pytest.approx([1, 1, 2 / N])


def test_induction_targets_are_the_tokens_after_earlier_copies() -> None:
    assert roles.induction_targets("abcabc") == [[], [], [], [1], [2], [3]]
    # An adjacent repeat would point at the position itself: left out.
    assert roles.induction_targets("aab") == [[], [], []]
    assert roles.induction_targets(list("xaxbx")) == [[], [], [1], [], [1, 3]]


def test_a_pure_induction_head_scores_one_and_a_previous_token_head_zero() -> None:
    tokens = list("abcdabcd")
    n = len(tokens)
    induction = np.eye(n)
    for i, targets in enumerate(roles.induction_targets(tokens)):
        if targets:
            induction[i] = 0
            induction[i, targets] = 1 / len(targets)
    attention = _heads(induction, _previous_token(n), _uniform(n, causal=True))
    scores = roles.induction_scores(attention, tokens)
    # The uniform causal head: row i of the second copy gives 1/(i+1) to its one target.
    chance = np.mean([1 / (i + 1) for i in range(4, 8)])
    assert scores == pytest.approx([1.0, 0.0, chance])


def test_induction_without_a_repeat_is_undefined() -> None:
    scores = roles.induction_scores(_heads(_uniform()), list("abcde"))
    assert np.isnan(scores).all()


def test_induction_needs_one_token_per_key() -> None:
    with pytest.raises(ValueError, match="3 tokens"):
        roles.induction_scores(_heads(_uniform()), list("abc"))


def test_alignment_is_the_weight_on_the_linked_source_tokens() -> None:
    # 3 target steps x 4 source tokens; step 0 translates source 0, step 2 sources 2 and 3.
    cross = np.array([[0.7, 0.1, 0.1, 0.1], [0.25] * 4, [0.0, 0.2, 0.4, 0.4]])
    links = [(0, [0]), (2, [2, 3])]
    scores = roles.alignment_scores(_heads(cross, np.full((3, 4), 0.25)), links)
    assert scores == pytest.approx([(0.7 + 0.8) / 2, 0.375])
    assert np.isnan(roles.alignment_scores(_heads(cross), [])).all()


def test_probes_count_once_each_and_undefined_ones_are_left_out() -> None:
    per_probe = [np.array([1.0, np.nan, np.nan]), np.array([0.0, 0.5, np.nan])]
    means = roles.mean_over_probes(per_probe, 3)
    assert means[:2].tolist() == [0.5, 0.5] and np.isnan(means[2])
    assert np.isnan(roles.mean_over_probes([], 2)).all()


def test_the_role_is_the_score_that_passes_its_threshold_by_most() -> None:
    # previous_token 0.6 / 0.5 = 1.2 beats self 0.55 / 0.5 = 1.1.
    assert roles.assign_role({"previous_token": 0.6, "self": 0.55}) == ("previous_token", 0.6)
    assert roles.assign_role({"previous_token": 0.3, "self": 0.35, "broad": 0.5}) == (
        "none",
        None,
    )
    assert roles.assign_role({"sink": 0.9, "broad": None}) == ("sink", 0.9)
    assert roles.assign_role({"sink": float("nan"), "broad": 0.85}) == ("broad", 0.85)


def test_a_pattern_role_wins_over_a_resting_one() -> None:
    # An induction head idles on the first token when nothing repeats: it is an induction head.
    scores: dict[roles.Role, float | None] = {"induction": 0.55, "sink": 1.0}
    assert roles.assign_role(scores) == ("induction", 0.55)


def test_every_role_but_none_has_one_rule_with_a_threshold_in_range() -> None:
    named = [rule.role for rule in roles.RULES]
    assert sorted(named) == sorted(r for r in get_args(roles.Role) if r != "none")
    assert all(0 < rule.threshold < 1 and rule.meaning for rule in roles.RULES)
    assert {r.role for r in roles.rules_for("cross_attn")} == {"alignment", "sink", "broad"}
