"""The optimization settings of a training run, their defaults per family, and the
learning-rate schedule."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class Hyperparameters:
    """Optimization settings; each family has its own defaults (FAMILY_DEFAULTS)."""

    lr: float = 1e-3  # peak learning rate (AdamW)
    warmup: int = 400  # steps of linear warm-up
    min_lr_ratio: float = 0.05  # the cosine decay ends at lr * min_lr_ratio
    max_steps: int = 12000  # optimizer steps; the cosine decay spans these or --minutes,
    # whichever runs out first (on a shared CPU the time limit often comes first)
    batch_tokens: int = 4000  # padded source + target tokens per batch
    label_smoothing: float = 0.1
    weight_decay: float = 0.01
    clip_norm: float = 1.0  # gradient norm clipping
    eval_every: int = 250  # steps between dev-loss evaluations
    patience: int = 8  # stop after this many evaluations without a better dev loss
    drop_final_punctuation: float = 0.15  # chance to train a pair without the source's
    # final 。/!/? so that input typed without it is translated as well


FAMILY_DEFAULTS: dict[str, dict[str, Any]] = {
    "bahdanau": {"lr": 2e-3, "warmup": 200, "max_steps": 4000, "batch_tokens": 3000},
    "luong": {"lr": 2e-3, "warmup": 200, "max_steps": 4000, "batch_tokens": 3000},
    "transformer": {"lr": 1e-3, "warmup": 400, "max_steps": 4000, "batch_tokens": 4000},
}


def hyperparameters(family: str, given: dict[str, Any]) -> Hyperparameters:
    """The family's defaults, overridden by the settings `given` (None: not given)."""
    values = {**asdict(Hyperparameters()), **FAMILY_DEFAULTS.get(family, {})}
    values.update({name: value for name, value in given.items() if value is not None})
    return Hyperparameters(**values)


def learning_rate_factor(step: int, time_used: float, hp: Hyperparameters) -> float:
    """Linear warm-up over `hp.warmup` steps, then cosine decay to min_lr_ratio as the
    steps or the time (`time_used`, a fraction of the time limit) run out."""
    if step < hp.warmup:
        return (step + 1) / hp.warmup
    progress = max((step - hp.warmup) / max(1, hp.max_steps - hp.warmup), time_used)
    progress = min(1.0, progress)
    return hp.min_lr_ratio + (1 - hp.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
