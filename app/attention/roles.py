"""Head roles: what one head does, scored from its own attention on probe texts.

Every score function takes one block's weights `attention`, [heads, queries, keys] with rows
that sum to 1, and returns float64 [heads]: a mean over the rows the score is defined on, NaN
where no row qualifies. In a self-attention block query i and key i are the same position (a
decoder's row i writes the token after the one it reads at column i), and `causal` says row i
sees only keys 0..i. A row that sees a single key has no choice to make and is left out.

A head's role: among the *pattern* roles (previous_token, induction, self, alignment), the
one whose score passes its threshold by the largest factor, score / threshold; only if none
passes, the same among the *resting* roles (sink, broad); else none. Pattern roles come
first because a specialist idles on a sink when its pattern is absent: an induction head
puts nearly all its weight on the first token of a text with nothing repeated.
"""

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

Role = Literal["previous_token", "induction", "self", "alignment", "sink", "broad", "none"]
# Bump when a score, a threshold or the probe texts change: cached roles are then recomputed.
ROLES_VERSION = 1


@dataclass(frozen=True)
class RoleRule:
    role: Role
    threshold: float
    pattern: bool  # a pattern role wins over any resting role (sink, broad)
    kinds: tuple[str, ...]  # the block kinds the score is defined on
    meaning: str  # a few words for a legend


# previous_token, induction and self: in the gaps the shipped models show between heads
# with the habit and heads without. alignment, sink, broad: no such gap; round numbers well
# above what uniform attention scores (alignment about 0.16 on the probes, sink 0.1-0.25),
# broad close to uniform (1). See docs/analyses.md, "Head roles".
RULES: tuple[RoleRule, ...] = (
    RoleRule("previous_token", 0.5, True, ("self_attn",), "reads the token just before it"),
    RoleRule(
        "induction",
        0.4,
        True,
        ("self_attn",),
        "in a repeat, reads the token after the earlier copy of its own",
    ),
    RoleRule("self", 0.5, True, ("self_attn",), "reads its own position"),
    RoleRule(
        "alignment", 0.35, True, ("cross_attn",), "reads the source words each word translates"
    ),
    RoleRule(
        "sink",
        0.7,
        False,
        ("self_attn", "cross_attn"),
        "parks its weight on the first or a special token",
    ),
    RoleRule("broad", 0.8, False, ("self_attn", "cross_attn"), "spreads its weight evenly"),
)


def rules_for(kind: str) -> list[RoleRule]:
    """The roles a block of this kind (self_attn, cross_attn) is scored for."""
    return [rule for rule in RULES if kind in rule.kinds]


def visible_keys(queries: int, keys: int, causal: bool) -> np.ndarray:
    """int [queries]: n_i, how many keys row i can see: i + 1 if causal, else all K."""
    if causal:
        return np.minimum(np.arange(1, queries + 1), keys)
    return np.full(queries, keys)


def _mean_over(per_row: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The mean over the chosen rows (bool [queries]) of [heads, queries]; NaN without rows."""
    if not rows.any():
        return np.full(per_row.shape[0], np.nan)
    return np.asarray(per_row[:, rows].mean(axis=1), dtype=np.float64)


def previous_token_scores(attention: np.ndarray) -> np.ndarray:
    """mean over rows i ≥ 1 of A[i, i-1]: the weight a position gives the one before it."""
    below = np.diagonal(attention, offset=-1, axis1=1, axis2=2)  # [heads, Q-1]: A[i+1, i]
    return _mean_over(below, np.ones(below.shape[1], dtype=bool))


def self_scores(attention: np.ndarray, causal: bool) -> np.ndarray:
    """mean over rows i (with n_i ≥ 2) of A[i, i]: the weight a position gives itself."""
    _, queries, keys = attention.shape
    diagonal = np.diagonal(attention, axis1=1, axis2=2)  # [heads, Q]
    return _mean_over(diagonal, visible_keys(queries, keys, causal) >= 2)


def sink_scores(attention: np.ndarray, sinks: np.ndarray, causal: bool) -> np.ndarray:
    """mean over rows i (with n_i ≥ 2) of Σ_{j in sinks} A[i, j], `sinks` bool [keys]: for
    self-attention the first position and every special token, for cross-attention the
    special source tokens."""
    _, queries, keys = attention.shape
    on_sinks = attention[:, :, sinks].sum(axis=2)  # [heads, Q]
    return _mean_over(on_sinks, visible_keys(queries, keys, causal) >= 2)


def broad_scores(attention: np.ndarray, causal: bool) -> np.ndarray:
    """mean over rows i (with n_i ≥ 2) of H_i / log n_i, where H_i = -Σ_j A[i, j] log A[i, j]
    (0 log 0 = 0): 1 for a row spread evenly over every key it sees, 0 for one key."""
    heads, queries, keys = attention.shape
    weights = attention.astype(np.float64)
    logs = np.log(weights, out=np.zeros_like(weights), where=weights > 0)
    entropy = -(weights * logs).sum(axis=2)  # [heads, Q]
    seen = visible_keys(queries, keys, causal)
    rows = seen >= 2
    normalized = np.zeros((heads, queries))
    normalized[:, rows] = entropy[:, rows] / np.log(seen[rows])
    return _mean_over(normalized, rows)


def induction_targets(tokens: Sequence[Hashable]) -> list[list[int]]:
    """For each position i, every j + 1 < i with token j equal to token i: the token that
    followed an earlier copy of its own token, where an induction head looks."""
    seen_at: dict[Hashable, list[int]] = {}
    targets: list[list[int]] = []
    for i, token in enumerate(tokens):
        targets.append([j + 1 for j in seen_at.get(token, []) if j + 1 < i])
        seen_at.setdefault(token, []).append(i)
    return targets


def induction_scores(attention: np.ndarray, tokens: Sequence[Hashable]) -> np.ndarray:
    """mean over rows i with targets T_i (induction_targets) of Σ_{t in T_i} A[i, t]. On a
    random sequence read twice these are the rows of the second copy. `tokens` label the keys
    (token ids or texts), which are also the rows' positions."""
    heads, queries, keys = attention.shape
    if queries != keys or len(tokens) != keys:
        raise ValueError(f"{len(tokens)} tokens for a [{heads}, {queries}, {keys}] block")
    targets = induction_targets(tokens)
    on_targets = np.zeros((heads, queries))
    for i, positions in enumerate(targets):
        on_targets[:, i] = attention[:, i, positions].sum(axis=1)
    return _mean_over(on_targets, np.array([bool(t) for t in targets]))


def alignment_scores(
    attention: np.ndarray, links: Sequence[tuple[int, Sequence[int]]]
) -> np.ndarray:
    """mean over links (t, S_t) of Σ_{j in S_t} A[t, j]: the weight the step writing target
    word t gives the source tokens S_t it translates (a hand-made word alignment)."""
    heads = attention.shape[0]
    if not links:
        return np.full(heads, np.nan)
    on_links = np.stack([attention[:, row, list(cols)].sum(axis=1) for row, cols in links])
    return np.asarray(on_links.mean(axis=0), dtype=np.float64)


def mean_over_probes(per_probe: Sequence[np.ndarray], heads: int) -> np.ndarray:
    """Each probe counts once: the mean of its per-head scores, NaN left out."""
    if not per_probe:
        return np.full(heads, np.nan)
    stacked = np.stack(per_probe)  # [probes, heads]
    counted = ~np.isnan(stacked)
    totals = np.where(counted, stacked, 0.0).sum(axis=0)
    counts = counted.sum(axis=0)
    return np.divide(totals, counts, out=np.full(heads, np.nan), where=counts > 0)


def assign_role(scores: Mapping[Role, float | None]) -> tuple[Role, float | None]:
    """(role, its score): the pattern role that passes its threshold by the largest factor,
    else the resting role that does, else ("none", None). Ties go to the earlier rule."""
    for pattern in (True, False):
        best: tuple[Role, float | None] = ("none", None)
        best_ratio = 1.0
        for rule in RULES:
            score = scores.get(rule.role)
            if rule.pattern != pattern or score is None or np.isnan(score):
                continue
            ratio = score / rule.threshold
            if ratio >= best_ratio and (best[0] == "none" or ratio > best_ratio):
                best, best_ratio = (rule.role, score), ratio
        if best[0] != "none":
            return best
    return "none", None
