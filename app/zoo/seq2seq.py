"""Adapter for the project's own zh->en translators (Bahdanau, Luong, Transformer)."""

from collections.abc import Hashable
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import torch

from app.attention.alignment import AlignSetting
from app.attention.errors import InputError
from app.attention.run import AttentionRun
from app.attention.steps import HeadInternals
from app.seq2seq.align_record import read_best_setting
from app.seq2seq.translator import Translator
from app.zoo.base import ModelAdapter, ModelInfo, check_layer_and_head, files_under, resolve_query
from app.zoo.cancel import stop_between_layers
from app.zoo.capture import capture_calls
from app.zoo.flops import ComputeShape, matrix_weights
from app.zoo.value_norms import ValueSites, reading_value_norms, transformer_translator_sites


class Seq2SeqAdapter(ModelAdapter):
    """One model id; for Luong, one trained checkpoint per score function (its variants)."""

    def __init__(
        self,
        info: ModelInfo,
        translators: dict[str, Translator],
        default: str,
        alignment: dict[str, AlignSetting | None] | None = None,
    ) -> None:
        self.info = info
        self._translators = translators
        self._default = default
        self._alignment = alignment or {}
        self._value_sites: dict[str, ValueSites | None] = {
            name: transformer_translator_sites(t.model) if t.family == "transformer" else None
            for name, t in translators.items()
        }

    @classmethod
    def from_folder(cls, path: Path, info: ModelInfo) -> "Seq2SeqAdapter":
        first = Translator.load(path)
        default = first.variant or ""
        translators = {default: first}
        for variant in first.variants:
            if variant != default:
                translators[variant] = Translator.load(path, variant)
        info = replace(
            info,
            family="encoder-decoder",
            layers=first.layers,
            heads=first.heads,
            max_tokens=first.max_source_tokens,
            variants=list(first.variants),
            default_variant=first.variant,
            explainable=first.family == "transformer",
            # Only the Transformer has value vectors and an output projection per head; the
            # GRU models' context is the encoder states themselves.
            weightings=["attention", "value_norm"]
            if first.family == "transformer"
            else ["attention"],
            # Rollout composes one stack's self-attention; see app/attention/ops/rollout.py.
            aggregates=["none", "heads"],
        )
        for translator in translators.values():
            stop_between_layers(translator.model, info.id)
        alignment = {name: read_best_setting(path / name if name else path) for name in translators}
        adapter = cls(info, translators, default, alignment)
        adapter.weight_files = files_under(path)
        config: Any = first.checkpoint.config
        adapter.compute = ComputeShape(
            weights=matrix_weights(first.model),
            layers=info.layers,
            # The width of its keys: d_model for the Transformer, both GRU directions else.
            attention_width=getattr(config, "d_model", 0) or 2 * config.encoder_hidden,
        )
        return adapter

    def reading_key(self, text: str, variant: str | None = None) -> Hashable:
        translator = self._translator(variant)
        try:
            characters, ids = translator.source_ids(text)
        except ValueError as error:
            raise InputError(str(error)) from None
        unknown = translator.source_vocab.unk_id
        return tuple(ids), tuple(c for c, i in zip(characters, ids, strict=True) if i == unknown)

    def budget(
        self, text: str, target: str | None, *, max_new_tokens: int, variant: str | None = None
    ) -> int:
        translator = self._translator(variant)
        if target is None:
            # The translator writes at most its longest target and the end token.
            return min(max_new_tokens, translator.max_target_tokens + 1)
        try:
            translator.target_ids(target)
        except ValueError as error:  # the translator's messages say what to change
            raise InputError(str(error)) from None
        return max_new_tokens

    def tokens_in(self, reading: Hashable) -> int | None:
        ids, _ = cast(tuple[tuple[int, ...], object], reading)  # as reading_key made it
        return len(ids)

    def alignment_setting(self, variant: str | None = None) -> AlignSetting | None:
        self._translator(variant)  # refuses an unknown variant
        return self._alignment.get(variant or self._default)

    def _translator(self, variant: str | None) -> Translator:
        if variant is None:
            return self._translators[self._default]
        if variant not in self._translators or not self.info.variants:
            choices = ", ".join(self.info.variants) or "none (leave 'variant' out)"
            raise InputError(
                f"model '{self.info.id}' has no variant '{variant}'; its variants: {choices}"
            )
        return self._translators[variant]

    def run(
        self,
        text: str,
        target: str | None,
        *,
        max_new_tokens: int,
        variant: str | None = None,
    ) -> AttentionRun:
        translator = self._translator(variant)
        try:
            reading = translator.read(text, target, max_new_tokens=max_new_tokens)
        except ValueError as error:  # the translator's messages say what to change
            raise InputError(str(error)) from None
        with reading_value_norms(self._value_sites[variant or self._default]) as norms:
            run = translator.attention_run(reading)
        return replace(run, value_norms=norms or None)

    def explain(
        self,
        text: str,
        *,
        stack: str,
        layer: int,
        head: int,
        query: int | str,
        target: str | None = None,
        variant: str | None = None,
        max_new_tokens: int,
    ) -> HeadInternals:
        if not self.info.explainable:
            return super().explain(
                text, stack=stack, layer=layer, head=head, query=query, max_new_tokens=1
            )
        translator = self._translator(variant)
        model: Any = translator.model
        layers = model.encoder_layers if stack == "encoder" else model.decoder_layers
        check_layer_and_head(stack, layer, len(layers), head, self.info.heads)
        attention = layers[layer].self_attn
        watched = {
            "q": attention.W_q,
            "k": attention.W_k,
            "v": attention.W_v,
            "mix": attention.W_o,  # its input is every head's output, side by side
            "attention": attention,
        }
        try:
            reading = translator.read(text, target, max_new_tokens=max_new_tokens)
        except ValueError as error:
            raise InputError(str(error)) from None
        with capture_calls(watched) as seen:
            run = translator.attention_run(reading)
        queries = (run.source if stack == "encoder" else run.target).texts()
        keys = (run.source if stack == "encoder" else run.target_input).texts()
        position = resolve_query(queries, query)
        size = attention.W_q.out_features // self.info.heads
        cut = slice(head * size, (head + 1) * size)
        weights = seen["attention"].output[1]  # (1, H, Tq, Tk)
        masked = None
        if stack == "decoder":
            masked = torch.arange(len(keys)) > position  # causal: later positions are hidden
        return HeadInternals(
            tokens=queries,
            key_tokens=keys,
            query_index=position,
            query=seen["q"].output[0, position, cut].float(),
            keys=seen["k"].output[0, :, cut].float(),
            values=seen["v"].output[0, :, cut].float(),
            scaling=size**-0.5,
            model_weights=weights[0, head, position].float(),
            model_output=seen["mix"].inputs[0][0, position, cut].float(),
            masked=masked,
        )
