"""The model families by name (each declared in its own module), and building a model from
its config."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from app.seq2seq import bahdanau, luong, transformer
from app.seq2seq.base import Seq2SeqModel
from app.seq2seq.spec import FamilySpec, ModelConfig, Variants

FAMILIES: dict[str, FamilySpec[Any]] = {
    family.name: family for family in (bahdanau.FAMILY, luong.FAMILY, transformer.FAMILY)
}


def family_spec(name: str) -> FamilySpec[Any]:
    if name not in FAMILIES:
        raise ValueError(f"unknown model family {name!r}; choose one of {sorted(FAMILIES)}")
    return FAMILIES[name]


def make_config(family: str, values: dict[str, Any]) -> ModelConfig:
    """A family's config from a dict, rejecting unknown keys (a typo would otherwise be
    silently ignored)."""
    config_type = family_spec(family).config
    known = {f.name for f in fields(config_type)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown {family} config keys: {unknown}")
    config: ModelConfig = config_type(**values)
    return config


def _spec_of(config: ModelConfig) -> FamilySpec[Any]:
    return next(family for family in FAMILIES.values() if isinstance(config, family.config))


def build_model(config: ModelConfig) -> Seq2SeqModel:
    return _spec_of(config).model(config)


def family_of(config: ModelConfig) -> str:
    return _spec_of(config).name


def variants_of(family: str) -> Variants | None:
    """How the family's checkpoints come in variants; None when each model is one."""
    return family_spec(family).variants


def variant_of(config: ModelConfig) -> str | None:
    """The variant a config trains (the value of its family's variant field), if any."""
    variants = _spec_of(config).variants
    return None if variants is None else str(getattr(config, variants.field))


def attention_layout(config: ModelConfig) -> tuple[int, int]:
    """(layers, heads) of the attention blocks the model returns."""
    return _spec_of(config).layout(config)
