"""Adapter for any local Hugging Face model folder: encoder, decoder or encoder-decoder."""

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForCausalLM,
    AutoModelForSeq2SeqLM,
    AutoTokenizer,
    PretrainedConfig,
)

from app.zoo.base import (
    AttentionRun,
    Family,
    HeadInternals,
    InputError,
    ModelAdapter,
    ModelInfo,
    check_layer_and_head,
    resolve_query,
)
from app.zoo.capture import capture_calls

log = logging.getLogger(__name__)

# Subword markers that only say where a word starts or continues: shown without them.
_WORD_START_MARKERS = ("Ġ", "▁")
_CONTINUATION_MARKER = "##"


def detect_family(config: PretrainedConfig) -> Family:
    if getattr(config, "is_encoder_decoder", False):
        return "encoder-decoder"
    architectures = config.architectures or []
    if getattr(config, "is_decoder", False) or any(
        a.endswith(("ForCausalLM", "LMHeadModel")) for a in architectures
    ):
        return "decoder"
    return "encoder"


def _layer_counts(config: PretrainedConfig, family: Family) -> tuple[int, int]:
    """(encoder layers, decoder layers) as the config declares them; 0 for a missing stack."""
    layers = int(config.num_hidden_layers)
    if family == "encoder":
        return layers, 0
    if family == "decoder":
        return 0, layers
    decoder_layers = getattr(config, "decoder_layers", None) or getattr(
        config, "num_decoder_layers", None
    )
    return layers, int(decoder_layers or layers)


def _head_count(config: PretrainedConfig) -> int:
    return int(config.num_attention_heads)


def _position_limit(config: PretrainedConfig, tokenizer: Any) -> int | None:
    limits = [
        getattr(config, "max_position_embeddings", None),
        getattr(config, "n_positions", None),
    ]
    model_max = getattr(tokenizer, "model_max_length", None)
    # Tokenizers with no declared limit report a huge sentinel (int(1e30)).
    if isinstance(model_max, int) and model_max < 1_000_000:
        limits.append(model_max)
    known = [int(limit) for limit in limits if isinstance(limit, int) and limit > 0]
    return min(known) if known else None


def display_token(tokenizer: Any, token_id: int) -> str:
    """A token as a person should read it: markers stripped, whitespace made visible."""
    if token_id in tokenizer.all_special_ids:
        return str(tokenizer.convert_ids_to_tokens(token_id))
    raw = str(tokenizer.convert_ids_to_tokens(token_id))
    decoded = tokenizer.decode([token_id])
    # Byte-level BPE splits some characters across tokens; such a piece decodes to U+FFFD.
    text = raw if "\ufffd" in decoded else decoded
    for marker in _WORD_START_MARKERS:
        text = text.replace(marker, " ")
    if text.startswith(_CONTINUATION_MARKER) and len(text) > len(_CONTINUATION_MARKER):
        text = text[len(_CONTINUATION_MARKER) :]
    stripped = text.strip()
    if stripped:
        return stripped
    return text.replace("\n", "↵").replace("\t", "⇥").replace(" ", "␣") or "∅"


def _load_model(path: Path, family: Family) -> Any:
    loader: Any = {
        "encoder": AutoModel,
        "decoder": AutoModelForCausalLM,
        "encoder-decoder": AutoModelForSeq2SeqLM,
    }[family]
    # The default SDPA kernels return no attention weights at all, silently: ask for eager.
    model = loader.from_pretrained(str(path), attn_implementation="eager", local_files_only=True)
    if model.config._attn_implementation != "eager":
        raise RuntimeError(f"{path}: eager attention was not enabled; attention would be empty")
    model.eval()
    return model


def _bert_self_attention(model: Any, layer: int) -> Any:
    """Layer `layer`'s BERT-style self-attention (separate query/key/value Linear layers), if any.

    Only this layout gives the step-by-step view: there q, k and v are exactly the outputs of
    three projections (no rotary embedding applied afterwards, no fused projection to split).
    """
    layers = getattr(getattr(model, "encoder", None), "layer", None)
    if layers is None or not 0 <= layer < len(layers):
        return None
    attention = getattr(getattr(layers[layer], "attention", None), "self", None)
    if attention is None or not all(hasattr(attention, n) for n in ("query", "key", "value")):
        return None
    return attention


def _check_count(attentions: tuple[torch.Tensor, ...] | None, expected: int, what: str) -> None:
    got = len(attentions or ())
    if got != expected:
        raise RuntimeError(
            f"{what}: the model returned {got} attention blocks for {expected} layers"
        )


class HuggingFaceAdapter(ModelAdapter):
    def __init__(self, info: ModelInfo, model: Any, tokenizer: Any) -> None:
        self.info = info
        self.model = model
        self.tokenizer = tokenizer
        self.encoder_layers, self.decoder_layers = _layer_counts(model.config, info.family)

    @classmethod
    def from_folder(cls, path: Path, info: ModelInfo, max_tokens: int) -> "HuggingFaceAdapter":
        """Load a model folder; `info` supplies names and texts, the folder supplies the shape."""
        config = AutoConfig.from_pretrained(str(path), local_files_only=True)
        family = detect_family(config)
        tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        model = _load_model(path, family)
        encoder_layers, decoder_layers = _layer_counts(config, family)
        limit = _position_limit(config, tokenizer)
        info = replace(
            info,
            family=family,
            layers=max(encoder_layers, decoder_layers),
            heads=_head_count(config),
            max_tokens=min(limit, max_tokens) if limit else max_tokens,
            explainable=family == "encoder" and _bert_self_attention(model, 0) is not None,
        )
        adapter = cls(info, model, tokenizer)
        adapter._self_test()
        return adapter

    def _self_test(self) -> None:
        """Fail at start-up, not on a user's request, if the model hides its attention."""
        example = self.info.examples[0].text if self.info.examples else "Hello world"
        self.run(example, None, max_new_tokens=2)

    def run(
        self,
        text: str,
        target: str | None,
        *,
        max_new_tokens: int,
        variant: str | None = None,
    ) -> AttentionRun:
        if variant is not None:
            raise InputError(f"model '{self.info.id}' has no variants; leave 'variant' out")
        source_ids = self._encode(text, add_special_tokens=True, what="text")
        with torch.inference_mode():
            if self.info.family == "encoder":
                if target is not None:
                    raise InputError(
                        f"model '{self.info.id}' is an encoder: it reads one text and has no "
                        "decoder to force a target through; leave 'target' out"
                    )
                return self._run_encoder(source_ids)
            if self.info.family == "decoder":
                return self._run_decoder(source_ids, target, max_new_tokens)
            return self._run_encoder_decoder(source_ids, target, max_new_tokens)

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
    ) -> HeadInternals:
        if not self.info.explainable:
            return super().explain(text, stack=stack, layer=layer, head=head, query=query)
        if stack != "encoder" or target is not None or variant is not None:
            raise InputError(
                f"model '{self.info.id}' has one stack, 'encoder', and takes no target"
            )
        check_layer_and_head(stack, layer, self.encoder_layers, head, self.info.heads)
        ids = self._encode(text, add_special_tokens=True, what="text")
        tokens = self._tokens(ids)
        position = resolve_query(tokens, query)
        attention = _bert_self_attention(self.model, layer)
        watched = {
            "q": attention.query,
            "k": attention.key,
            "v": attention.value,
            "attention": attention,
        }
        with torch.inference_mode(), capture_calls(watched) as seen:
            self.model(input_ids=torch.tensor([ids]), output_attentions=True)
        size = attention.attention_head_size
        cut = slice(head * size, (head + 1) * size)
        output, weights = seen["attention"].output  # (1, n, H*d), (1, H, n, n)
        return HeadInternals(
            tokens=tokens,
            key_tokens=tokens,
            query_index=position,
            query=seen["q"].output[0, position, cut].float(),
            keys=seen["k"].output[0, :, cut].float(),
            values=seen["v"].output[0, :, cut].float(),
            scaling=float(attention.scaling),
            model_weights=weights[0, head, position].float(),
            model_output=output[0, position, cut].float(),
        )

    def _encode(self, text: str, *, add_special_tokens: bool, what: str) -> list[int]:
        ids: list[int] = self.tokenizer(text, add_special_tokens=add_special_tokens)["input_ids"]
        if not ids:
            raise InputError(f"the {what} produced no tokens; type some words")
        if len(ids) > self.info.max_tokens:
            raise InputError(
                f"the {what} is {len(ids)} tokens long; model '{self.info.id}' accepts at most "
                f"{self.info.max_tokens}. Shorten it."
            )
        return ids

    def _tokens(self, ids: list[int]) -> list[str]:
        return [display_token(self.tokenizer, i) for i in ids]

    def _run_encoder(self, ids: list[int]) -> AttentionRun:
        out = self.model(input_ids=torch.tensor([ids]), output_attentions=True)
        _check_count(out.attentions, self.encoder_layers, self.info.id)
        blocks = {f"encoder.{i}.self_attn": a[0].float() for i, a in enumerate(out.attentions)}
        return AttentionRun(self._tokens(ids), [], [], blocks)

    def _run_decoder(self, ids: list[int], target: str | None, max_new_tokens: int) -> AttentionRun:
        output_text = None
        if target is None:
            prompt = torch.tensor([ids])
            generated = self.model.generate(
                input_ids=prompt,
                attention_mask=torch.ones_like(prompt),
                max_new_tokens=max_new_tokens,
                do_sample=False,
                num_beams=1,
                pad_token_id=self._pad_id(),
            )
            sequence: list[int] = generated[0].tolist()
            output_text = self.tokenizer.decode(sequence[len(ids) :], skip_special_tokens=True)
        else:
            sequence = ids + self._encode(target, add_special_tokens=False, what="target")
        if len(sequence) > self.info.max_tokens:
            raise InputError(
                f"text and target together are {len(sequence)} tokens; model '{self.info.id}' "
                f"accepts at most {self.info.max_tokens}. Shorten them."
            )
        # One pass over the whole sequence gives full [T, T] matrices for prompt and continuation.
        out = self.model(input_ids=torch.tensor([sequence]), output_attentions=True)
        _check_count(out.attentions, self.decoder_layers, self.info.id)
        blocks = {f"decoder.{i}.self_attn": a[0].float() for i, a in enumerate(out.attentions)}
        tokens = self._tokens(sequence)
        return AttentionRun([], tokens, tokens, blocks, output_text)

    def _run_encoder_decoder(
        self, ids: list[int], target: str | None, max_new_tokens: int
    ) -> AttentionRun:
        source = torch.tensor([ids])
        start = self.model.config.decoder_start_token_id
        if start is None:
            raise RuntimeError(f"{self.info.id}: the config has no decoder_start_token_id")
        output_text = None
        if target is None:
            generated = self.model.generate(
                input_ids=source,
                attention_mask=torch.ones_like(source),
                max_new_tokens=max_new_tokens,
                do_sample=False,
                num_beams=1,
            )
            # A batch of one is never padded: everything after the start token was emitted.
            emitted = generated[0].tolist()[1:]
            output_text = self.tokenizer.decode(emitted, skip_special_tokens=True)
        else:
            emitted = self.tokenizer(text_target=target)["input_ids"]
            if not emitted:
                raise InputError(
                    "the target produced no tokens; type a translation or leave it out"
                )
            if len(emitted) > self.info.max_tokens:
                raise InputError(
                    f"the target is {len(emitted)} tokens long; model '{self.info.id}' accepts "
                    f"at most {self.info.max_tokens}. Shorten it."
                )
        decoder_input = [int(start), *emitted[:-1]]
        out = self.model(
            input_ids=source,
            decoder_input_ids=torch.tensor([decoder_input]),
            output_attentions=True,
        )
        _check_count(out.encoder_attentions, self.encoder_layers, f"{self.info.id} encoder")
        _check_count(out.decoder_attentions, self.decoder_layers, f"{self.info.id} decoder")
        _check_count(out.cross_attentions, self.decoder_layers, f"{self.info.id} cross")
        blocks = {
            f"encoder.{i}.self_attn": a[0].float() for i, a in enumerate(out.encoder_attentions)
        }
        for i, (self_attn, cross_attn) in enumerate(
            zip(out.decoder_attentions, out.cross_attentions, strict=True)
        ):
            blocks[f"decoder.{i}.self_attn"] = self_attn[0].float()
            blocks[f"decoder.{i}.cross_attn"] = cross_attn[0].float()
        return AttentionRun(
            self._tokens(ids),
            self._tokens(emitted),
            self._tokens(decoder_input),
            blocks,
            output_text,
        )

    def _pad_id(self) -> int | None:
        pad = self.tokenizer.pad_token_id
        return int(pad) if pad is not None else self.tokenizer.eos_token_id
