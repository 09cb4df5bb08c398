"""The three model families by name, and building a model from its config."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from app.seq2seq.bahdanau import BahdanauConfig, BahdanauTranslator
from app.seq2seq.base import Seq2SeqModel
from app.seq2seq.luong import LuongConfig, LuongTranslator
from app.seq2seq.transformer import Transformer, TransformerConfig

ModelConfig = BahdanauConfig | LuongConfig | TransformerConfig

CONFIGS: dict[str, type[ModelConfig]] = {
    "bahdanau": BahdanauConfig,
    "luong": LuongConfig,
    "transformer": TransformerConfig,
}


def make_config(family: str, values: dict[str, Any]) -> ModelConfig:
    """A family's config from a dict, rejecting unknown keys (a typo would otherwise be
    silently ignored)."""
    if family not in CONFIGS:
        raise ValueError(f"unknown model family {family!r}; choose one of {sorted(CONFIGS)}")
    config_type = CONFIGS[family]
    known = {f.name for f in fields(config_type)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown {family} config keys: {unknown}")
    return config_type(**values)


def build_model(config: ModelConfig) -> Seq2SeqModel:
    if isinstance(config, BahdanauConfig):
        return BahdanauTranslator(config)
    if isinstance(config, LuongConfig):
        return LuongTranslator(config)
    return Transformer(config)


def family_of(config: ModelConfig) -> str:
    return next(name for name, kind in CONFIGS.items() if isinstance(config, kind))


def attention_layout(config: ModelConfig) -> tuple[int, int]:
    """(layers, heads) of the attention blocks the model returns."""
    if isinstance(config, TransformerConfig):
        return max(config.encoder_layers, config.decoder_layers), config.heads
    return 1, 1
