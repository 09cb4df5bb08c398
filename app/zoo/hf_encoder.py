"""A Hugging Face encoder (BERT-style, e.g. MiniLM): one text in, one self-attention block per
layer out; concurrent texts run as one batch, packed where its fast path is on."""

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from app.attention.errors import InputError
from app.attention.names import BlockName, encoder_self_attention
from app.attention.run import AttentionRun, TokenList
from app.attention.steps import HeadInternals
from app.zoo.base import ModelInfo, check_layer_and_head, resolve_query
from app.zoo.capture import capture_calls
from app.zoo.fast_path import EncoderFastPath
from app.zoo.hf_adapter import HuggingFaceAdapter, Reading, blocks_by_name, check_block_count
from app.zoo.hf_tokens import Segment
from app.zoo.value_norms import ValueSites, reading_batch_value_norms, reading_value_norms


def bert_self_attention(model: Any, layer: int) -> Any:
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


class HFEncoderAdapter(HuggingFaceAdapter):
    def __init__(
        self, info: ModelInfo, model: Any, tokenizer: Any, value_sites: ValueSites | None = None
    ) -> None:
        super().__init__(info, model, tokenizer, value_sites)
        # Packed runs and oneDNN kernels, once start-up shows this model allows them: see
        # try_fast_path. None: padded batches, the model's own kernels.
        self.fast_path: EncoderFastPath | None = None
        # A text is read once: a request's cache key reads it on the event loop, and its run,
        # a moment later on a gate thread, reuses the reading (lru_cache is thread-safe).
        # Encoder texts are short (≤ 512 tokens, so 64 readings stay within a few MB), and only
        # encoders run batches of other requests' texts.
        self._read = functools.lru_cache(maxsize=64)(self._read_text)

    @property
    def packed(self) -> bool:
        return self.fast_path is not None

    def try_fast_path(self, *, onednn_linears: bool) -> None:
        """Run texts packed from now on, their linear layers on oneDNN if `onednn_linears`,
        where the start-up check passes (app/zoo/fast_path.py)."""
        example = self.info.examples[0].text if self.info.examples else "Hello world"
        examples = [self._read(text)[0].ids for text in (example, "Attention, packed.")]
        self.fast_path = EncoderFastPath.checked(
            self.model,
            self.encoder_layers,
            examples,
            onednn_linears=onednn_linears,
            model_id=self.info.id,
        )

    def _run(
        self, source: Segment, tokens: TokenList, target: str | None, max_new_tokens: int
    ) -> AttentionRun:
        if target is not None:
            raise InputError(
                f"model '{self.info.id}' is an encoder: it reads one text and has no "
                "decoder to force a target through; leave 'target' out"
            )
        if self.fast_path is not None:
            return self._run_packed(self.fast_path, [(source, tokens)])[0]
        with reading_value_norms(self.value_sites) as norms:
            out = self.model(input_ids=torch.tensor([source.ids]), output_attentions=True)
        check_block_count(out.attentions, self.encoder_layers, self.info.id)
        return AttentionRun(
            blocks=blocks_by_name(out.attentions, encoder_self_attention),
            source=tokens,
            value_norms=norms or None,
        )

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
        if stack != "encoder" or target is not None or variant is not None:
            raise InputError(
                f"model '{self.info.id}' has one stack, 'encoder', and takes no target"
            )
        check_layer_and_head(stack, layer, self.encoder_layers, head, self.info.heads)
        source = self._encode(text, add_special_tokens=True, what="text")
        tokens = self.tokens.token_list([source]).texts()
        position = resolve_query(tokens, query)
        attention = bert_self_attention(self.model, layer)
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

    @property
    def batchable(self) -> bool:
        """Concurrent texts may share one forward pass (app/api/batching.py): an encoder reads
        each text once, so running them in one batch changes nothing."""
        return True

    def run_batch(self, texts: list[str]) -> list[AttentionRun | InputError]:
        """One run per text, from a single forward pass; a text that cannot be run gets its
        InputError in its place. Packed (see try_fast_path) or padded on the right and masked,
        each text's attention, cut to its own length, is what it gets alone (to float32
        rounding)."""
        read: list[Reading | InputError] = []
        for text in texts:
            try:
                read.append(self._read(text))
            except InputError as error:
                read.append(error)
        sources = [item for item in read if not isinstance(item, InputError)]
        if not sources:
            return [item for item in read if isinstance(item, InputError)]
        runs = iter(
            self._run_padded(sources)
            if self.fast_path is None
            else self._run_packed(self.fast_path, sources)
        )
        return [item if isinstance(item, InputError) else next(runs) for item in read]

    def _run_packed(self, fast_path: EncoderFastPath, sources: list[Reading]) -> list[AttentionRun]:
        sequences = [segment.ids for segment, _ in sources]
        weights, norms = fast_path.attention(sequences, self.value_sites)
        return self._cut_runs(weights, sources, [len(ids) for ids in sequences], norms)

    def _run_padded(self, sources: list[Reading]) -> list[AttentionRun]:
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
        check_block_count(out.attentions, self.encoder_layers, self.info.id)
        return self._cut_runs(out.attentions, sources, lengths, norms)

    def _cut_runs(
        self,
        attentions: Sequence[torch.Tensor],
        sources: list[Reading],
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
