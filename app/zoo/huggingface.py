"""Adapter for any local Hugging Face model folder: encoder, decoder or encoder-decoder."""

import functools
import inspect
import logging
import threading
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForCausalLM,
    AutoModelForSeq2SeqLM,
    AutoTokenizer,
    PretrainedConfig,
)

from app.attention.analysis import AGGREGATES
from app.attention.errors import InputError
from app.attention.names import (
    BlockName,
    cross_attention,
    decoder_self_attention,
    encoder_self_attention,
)
from app.attention.run import AttentionRun, ComputedBlocks, TokenList
from app.attention.steps import HeadInternals
from app.zoo import onednn, packing
from app.zoo.base import (
    Family,
    ModelAdapter,
    ModelInfo,
    check_layer_and_head,
    files_under,
    resolve_query,
)
from app.zoo.cancel import stop_between_layers
from app.zoo.capture import capture_calls
from app.zoo.hf_tokens import HFTokens, Segment
from app.zoo.packing import PACKED_ATTENTION, pack, reading_packed
from app.zoo.recompute import LlamaAttentionRecompute
from app.zoo.stepping import StepwiseGeneration
from app.zoo.value_norms import (
    ValueSites,
    huggingface_value_sites,
    reading_batch_value_norms,
    reading_value_norms,
)

log = logging.getLogger(__name__)


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
    stop_between_layers(model)
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


def _blocks(
    attentions: tuple[torch.Tensor, ...], name: Callable[[int], BlockName]
) -> dict[BlockName, np.ndarray]:
    """The first (only) batch row of each layer's weights, float32 numpy, by block name."""
    return {name(i): a[0].float().contiguous().numpy() for i, a in enumerate(attentions)}


class HuggingFaceAdapter(ModelAdapter):
    def __init__(
        self, info: ModelInfo, model: Any, tokenizer: Any, value_sites: ValueSites | None = None
    ) -> None:
        self.info = info
        self.model = model
        self.tokenizer = tokenizer
        self.tokens = HFTokens(tokenizer)
        self.value_sites = value_sites
        self.encoder_layers, self.decoder_layers = _layer_counts(model.config, info.family)
        # Llama decoders keep each layer's input and compute attention when it is read: long
        # inputs would not fit otherwise (app/zoo/recompute.py).
        self.recompute = (
            LlamaAttentionRecompute(model)
            if info.family == "decoder" and model.config.model_type == "llama"
            else None
        )
        # Encoder texts run packed (app/zoo/packing.py) once start-up shows that this model
        # allows it: see _try_packing.
        self.packed = False
        self._takes_token_types = "token_type_ids" in inspect.signature(model.forward).parameters
        # The attention kernel is a setting of the shared model object: whoever switches it
        # holds this lock until the model is back on eager (see _kernel).
        self._kernel_lock = threading.Lock()
        # An encoder's text is read once: a request's cache key reads it on the event loop,
        # and its run, a moment later on a gate thread, reuses the reading (lru_cache is
        # thread-safe). Encoders only: their texts are short (≤ 512 tokens, so 64 readings
        # stay within a few MB), and only they run batches of other requests' texts.
        self._read: Callable[[str], tuple[Segment, TokenList]] = (
            functools.lru_cache(maxsize=64)(self._read_text)
            if info.family == "encoder"
            else self._read_text
        )

    @classmethod
    def from_folder(
        cls, path: Path, info: ModelInfo, max_tokens: int, *, onednn_linears: bool = True
    ) -> "HuggingFaceAdapter":
        """Load a model folder; `info` supplies names and texts, the folder supplies the shape.
        `onednn_linears`: an encoder that runs packed also runs its linear layers on oneDNN
        (app/zoo/onednn.py)."""
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
            kv_heads=int(getattr(config, "num_key_value_heads", None) or _head_count(config)),
            max_tokens=min(limit, max_tokens) if limit else max_tokens,
            explainable=family == "encoder" and _bert_self_attention(model, 0) is not None,
            # Rollout composes one stack's self-attention; see app/attention/ops/rollout.py.
            aggregates=["none", "heads"] if family == "encoder-decoder" else list(AGGREGATES),
        )
        adapter = cls(info, model, tokenizer, huggingface_value_sites(model))
        adapter.weight_files = files_under(path)
        adapter._try_packing(onednn_linears and onednn.available())
        adapter._self_test()
        return adapter

    def _self_test(self) -> None:
        """Fail at start-up, not on a user's request, if the model hides its attention; offer
        value-norm weighting only if every block's value vectors were found."""
        example = self.info.examples[0].text if self.info.examples else "Hello world"
        run = self.run(example, None, max_new_tokens=2)
        if self.value_sites and set(run.value_norms or ()) != set(run.blocks):
            log.warning("%s: value vectors not found for every block; no value norms", self.info.id)
            self.value_sites = None
        if self.value_sites:
            self.info = replace(self.info, weightings=["attention", "value_norm"])

    def _try_packing(self, onednn_linears: bool) -> None:
        """Run this encoder's texts packed (app/zoo/packing.py), its linear layers on oneDNN
        (app/zoo/onednn.py), if it calls its attention through the registry, takes position
        ids, and its packed weights for two texts of different lengths, run together, match
        within 1e-5 the weights its unchanged self gives each alone; otherwise keep padded
        batches and the default kernels."""
        forward_takes = inspect.signature(self.model.forward).parameters
        if (
            self.info.family != "encoder"
            or "position_ids" not in forward_takes
            or not self.model._can_set_attn_implementation()
        ):
            return
        example = self.info.examples[0].text if self.info.examples else "Hello world"
        texts = [example, "Attention, packed."]
        with torch.inference_mode():
            alone = [
                self.model(input_ids=torch.tensor([ids]), output_attentions=True)
                for ids in (self._read(text)[0].ids for text in texts)
            ]
        packing.register()
        self.model.set_attn_implementation(PACKED_ATTENTION)
        self.packed = True
        try:
            if onednn_linears:
                onednn.use_onednn_linears(self.model)
            runs = self.run_batch(texts)
            matches = all(
                isinstance(run, AttentionRun)
                and np.allclose(
                    run.blocks[encoder_self_attention(i)], a[0].numpy(), rtol=0, atol=1e-5
                )
                for run, out in zip(runs, alone, strict=True)
                for i, a in enumerate(out.attentions)
            )
        except Exception:  # a model this does not fit: fall back, do not fail to load
            log.exception("%s: packed runs failed; batches are padded", self.info.id)
            matches = False
        if not matches:
            log.warning("%s: packed weights differ from eager; batches are padded", self.info.id)
            self.model.set_attn_implementation("eager")
            onednn.use_default_linears(self.model)
            self.packed = False
        else:
            kernels = "oneDNN" if onednn_linears else "PyTorch's default"
            log.info("%s: texts run packed, linear layers on %s kernels", self.info.id, kernels)

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
        source, tokens = self._read(text)
        with torch.inference_mode():
            if self.info.family == "encoder":
                if target is not None:
                    raise InputError(
                        f"model '{self.info.id}' is an encoder: it reads one text and has no "
                        "decoder to force a target through; leave 'target' out"
                    )
                return self._run_encoder(source, tokens)
            if self.info.family == "decoder":
                return self._run_decoder(source, target, max_new_tokens)
            return self._run_encoder_decoder(source, target, max_new_tokens)

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
        source = self._encode(text, add_special_tokens=True, what="text")
        tokens = self.tokens.token_list([source]).texts()
        position = resolve_query(tokens, query)
        attention = _bert_self_attention(self.model, layer)
        watched = {
            "q": attention.query,
            "k": attention.key,
            "v": attention.value,
            "attention": attention,
        }
        with torch.inference_mode(), capture_calls(watched) as seen:
            self.model(input_ids=torch.tensor([source.ids]), output_attentions=True)
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

    def generation(self, text: str, *, max_new_tokens: int) -> StepwiseGeneration:
        if self.info.family != "decoder":
            return super().generation(text, max_new_tokens=max_new_tokens)
        prompt = self._encode(text, add_special_tokens=True, what="text")
        return StepwiseGeneration(
            self.model,
            self.tokens,
            prompt.ids,
            max_new_tokens=max_new_tokens,
            max_tokens=self.info.max_tokens,
            reading=lambda: self._kernel_lock,
            prefilling=(lambda: self._kernel("sdpa"))
            if self.recompute
            else lambda: self._kernel_lock,
        )

    def _encode(self, text: str, *, add_special_tokens: bool, what: str) -> Segment:
        segment = self.tokens.encode(text, add_special_tokens=add_special_tokens)
        if not segment.ids:
            raise InputError(f"the {what} produced no tokens; type some words")
        if len(segment.ids) > self.info.max_tokens:
            raise InputError(
                f"the {what} is {len(segment.ids)} tokens long; model '{self.info.id}' accepts "
                f"at most {self.info.max_tokens}. Shorten it."
            )
        return segment

    def _run_encoder(self, source: Segment, tokens: TokenList) -> AttentionRun:
        if self.packed:
            return self._run_packed([(source, tokens)])[0]
        with reading_value_norms(self.value_sites) as norms:
            out = self.model(input_ids=torch.tensor([source.ids]), output_attentions=True)
        _check_count(out.attentions, self.encoder_layers, self.info.id)
        return AttentionRun(
            blocks=_blocks(out.attentions, encoder_self_attention),
            source=tokens,
            value_norms=norms or None,
        )

    def _read_text(self, text: str) -> tuple[Segment, TokenList]:
        """`text`'s tokens, special tokens added, and their list (see self._read)."""
        source = self._encode(text, add_special_tokens=True, what="text")
        return source, self.tokens.token_list([source])

    def reading_key(self, text: str, variant: str | None = None) -> Hashable:
        source, tokens = self._read(text)
        return tuple(source.ids), tuple(token.typed for token in tokens.tokens if token.typed)

    @property
    def batchable(self) -> bool:
        """Whether concurrent texts may share one forward pass (app/api/batching.py): an
        encoder reads each text once, so padding them into one batch changes nothing."""
        return self.info.family == "encoder"

    def run_batch(self, texts: list[str]) -> list[AttentionRun | InputError]:
        """One run per text, from a single forward pass; a text that cannot be run gets its
        InputError in its place. Packed (see _try_packing) or padded on the right and masked,
        each text's attention, cut to its own length, is what it gets alone (to float32
        rounding)."""
        read: list[tuple[Segment, TokenList] | InputError] = []
        for text in texts:
            try:
                read.append(self._read(text))
            except InputError as error:
                read.append(error)
        sources = [item for item in read if not isinstance(item, InputError)]
        if not sources:
            return [item for item in read if isinstance(item, InputError)]
        runs = iter(self._run_packed(sources) if self.packed else self._run_padded(sources))
        return [item if isinstance(item, InputError) else next(runs) for item in read]

    def _run_packed(self, sources: list[tuple[Segment, TokenList]]) -> list[AttentionRun]:
        """Texts packed into one row, with no padding, up to the last layer's attention."""
        row = pack([segment.ids for segment, _ in sources])
        cuts = [
            (0, slice(start, start + n)) for start, n in zip(row.starts, row.lengths, strict=True)
        ]
        with (
            torch.inference_mode(),
            reading_batch_value_norms(self.value_sites, cuts) as norms,
            reading_packed(row, self.encoder_layers) as weights,
        ):
            self.model(
                input_ids=row.input_ids,
                position_ids=row.position_ids,
                **({"token_type_ids": row.token_type_ids} if self._takes_token_types else {}),
            )
        return self._cut_runs(weights, sources, row.lengths, norms)

    def _run_padded(self, sources: list[tuple[Segment, TokenList]]) -> list[AttentionRun]:
        lengths = [len(segment.ids) for segment, _ in sources]
        longest = max(lengths)
        pad = self._pad_id() or 0
        ids = torch.tensor([seg.ids + [pad] * (longest - len(seg.ids)) for seg, _ in sources])
        # No mask when nothing is padded (a lone text): an all-ones mask changes no weight,
        # and building and adding it cost 0.3 ms of a 30-token MiniLM run.
        mask = (
            None
            if min(lengths) == longest
            else torch.tensor([[1] * n + [0] * (longest - n) for n in lengths])
        )
        cuts = [(row, slice(0, n)) for row, n in enumerate(lengths)]
        with torch.inference_mode(), reading_batch_value_norms(self.value_sites, cuts) as norms:
            out = self.model(input_ids=ids, attention_mask=mask, output_attentions=True)
        _check_count(out.attentions, self.encoder_layers, self.info.id)
        return self._cut_runs(out.attentions, sources, lengths, norms)

    def _cut_runs(
        self,
        attentions: Sequence[torch.Tensor],
        sources: list[tuple[Segment, TokenList]],
        lengths: list[int],
        norms: list[dict[BlockName, np.ndarray]],
    ) -> list[AttentionRun]:
        """Each text's run from a batch's weights (texts, heads, longest, longest)."""
        # Sliced with numpy: a torch slice and copy per block and row cost 6% of a batch.
        layers = [a.float().numpy() for a in attentions]
        return [
            AttentionRun(
                blocks={
                    encoder_self_attention(i): np.ascontiguousarray(a[row, :, :n, :n])
                    for i, a in enumerate(layers)
                },
                source=tokens,
                value_norms=norms[row] or None,
            )
            for row, ((_, tokens), n) in enumerate(zip(sources, lengths, strict=True))
        ]

    @contextmanager
    def _kernel(self, implementation: str) -> Iterator[None]:
        """Run the model with another attention kernel ("sdpa": fast, returns no weights),
        then put eager back; callers of the model that need eager's weights take the lock."""
        with self._kernel_lock:
            self.model.set_attn_implementation(implementation)
            try:
                yield
            finally:
                self.model.set_attn_implementation("eager")

    def _run_decoder(
        self, prompt: Segment, target: str | None, max_new_tokens: int
    ) -> AttentionRun:
        if self.recompute is None:
            with self._kernel_lock:
                return self._decode(prompt, target, max_new_tokens)
        with self._kernel("sdpa"):
            return self._decode(prompt, target, max_new_tokens)

    def _decode(self, prompt: Segment, target: str | None, max_new_tokens: int) -> AttentionRun:
        output_text = None
        if target is None:
            prompt_ids = torch.tensor([prompt.ids])
            generated = self.model.generate(
                input_ids=prompt_ids,
                attention_mask=torch.ones_like(prompt_ids),
                max_new_tokens=max_new_tokens,
                do_sample=False,
                num_beams=1,
                pad_token_id=self._pad_id(),
            )
            written: list[int] = generated[0].tolist()[len(prompt.ids) :]
            continuation = self.tokens.decoded(written)
            output_text = self.tokenizer.decode(written, skip_special_tokens=True)
        else:
            continuation = self._encode(target, add_special_tokens=False, what="target")
        sequence = prompt.ids + continuation.ids
        if len(sequence) > self.info.max_tokens:
            raise InputError(
                f"text and target together are {len(sequence)} tokens; model '{self.info.id}' "
                f"accepts at most {self.info.max_tokens}. Shorten them."
            )
        # One pass over the whole sequence gives full [T, T] matrices for prompt and continuation.
        blocks: Mapping[BlockName, np.ndarray]
        with reading_value_norms(self.value_sites) as norms:
            if self.recompute is None:
                out = self.model(input_ids=torch.tensor([sequence]), output_attentions=True)
                _check_count(out.attentions, self.decoder_layers, self.info.id)
                blocks = _blocks(out.attentions, decoder_self_attention)
            else:
                blocks = self._computed_blocks(sequence)
        tokens = self.tokens.token_list([prompt, continuation])
        return AttentionRun(
            blocks=blocks,
            target=tokens,
            target_input=tokens,
            value_norms=norms or None,
            output_text=output_text,
        )

    def _computed_blocks(self, sequence: list[int]) -> ComputedBlocks:
        """Blocks computed when read, from each layer's input (the base model's hidden states;
        no logits: nothing here needs them, and at 2048 tokens they are 400 MB)."""
        recompute = self.recompute
        assert recompute is not None
        out = self.model.model(input_ids=torch.tensor([sequence]), output_hidden_states=True)
        inputs = out.hidden_states[: self.decoder_layers]  # the last entry is the final norm's
        _check_count(inputs, self.decoder_layers, self.info.id)
        length, heads = len(sequence), self.info.heads

        def compute(name: BlockName, chosen: list[int] | None) -> np.ndarray:
            return recompute.weights(name.layer, inputs[name.layer], chosen)

        shapes = {decoder_self_attention(i): (heads, length, length) for i in range(len(inputs))}
        kept = sum(h.numel() * h.element_size() for h in inputs)
        return ComputedBlocks(shapes, compute, kept)

    def _run_encoder_decoder(
        self, source: Segment, target: str | None, max_new_tokens: int
    ) -> AttentionRun:
        start = self.model.config.decoder_start_token_id
        if start is None:
            raise RuntimeError(f"{self.info.id}: the config has no decoder_start_token_id")
        output_text = None
        if target is None:
            source_ids = torch.tensor([source.ids])
            generated = self.model.generate(
                input_ids=source_ids,
                attention_mask=torch.ones_like(source_ids),
                max_new_tokens=max_new_tokens,
                do_sample=False,
                num_beams=1,
            )
            # A batch of one is never padded: everything after the start token was emitted.
            emitted = self.tokens.decoded(generated[0].tolist()[1:])
            output_text = self.tokenizer.decode(emitted.ids, skip_special_tokens=True)
        else:
            emitted = self._target_segment(target)
        decoder_input = [int(start), *emitted.ids[:-1]]
        with reading_value_norms(self.value_sites) as norms:
            out = self.model(
                input_ids=torch.tensor([source.ids]),
                decoder_input_ids=torch.tensor([decoder_input]),
                output_attentions=True,
            )
        _check_count(out.encoder_attentions, self.encoder_layers, f"{self.info.id} encoder")
        _check_count(out.decoder_attentions, self.decoder_layers, f"{self.info.id} decoder")
        _check_count(out.cross_attentions, self.decoder_layers, f"{self.info.id} cross")
        target_tokens = self.tokens.token_list([emitted])
        return AttentionRun(
            blocks={
                **_blocks(out.encoder_attentions, encoder_self_attention),
                **_blocks(out.decoder_attentions, decoder_self_attention),
                **_blocks(out.cross_attentions, cross_attention),
            },
            source=self.tokens.token_list([source]),
            target=target_tokens,
            target_input=target_tokens.shifted_right(self.tokenizer.convert_ids_to_tokens(start)),
            value_norms=norms or None,
            output_text=output_text,
        )

    def _target_segment(self, target: str) -> Segment:
        """The target as the decoder should emit it: the tokenizer's target-side encoding."""
        emitted = self.tokens.encode(target, add_special_tokens=True, as_target=True)
        if not emitted.ids:
            raise InputError("the target produced no tokens; type a translation or leave it out")
        if len(emitted.ids) > self.info.max_tokens:
            raise InputError(
                f"the target is {len(emitted.ids)} tokens long; model '{self.info.id}' accepts "
                f"at most {self.info.max_tokens}. Shorten it."
            )
        return emitted

    def _pad_id(self) -> int | None:
        pad = self.tokenizer.pad_token_id
        return int(pad) if pad is not None else self.tokenizer.eos_token_id
