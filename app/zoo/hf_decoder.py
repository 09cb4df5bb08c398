"""A Hugging Face decoder (GPT-2, Llama, e.g. SmolLM2): a prompt and what it generates (or a
given target) in, one causal self-attention block per layer out; also generation step by
step."""

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

from app.attention.names import BlockName, decoder_self_attention
from app.attention.run import AttentionRun, ComputedBlocks, TokenList
from app.zoo.base import ModelInfo
from app.zoo.budget import check_together, writing_budget
from app.zoo.hf_adapter import HuggingFaceAdapter, blocks_by_name, check_block_count
from app.zoo.hf_tokens import Segment
from app.zoo.recompute import LlamaAttentionRecompute
from app.zoo.stepping import StepwiseGeneration
from app.zoo.value_norms import ValueSites, reading_value_norms


class HFDecoderAdapter(HuggingFaceAdapter):
    def __init__(
        self, info: ModelInfo, model: Any, tokenizer: Any, value_sites: ValueSites | None = None
    ) -> None:
        super().__init__(info, model, tokenizer, value_sites)
        # Llama decoders keep each layer's input and compute attention when it is read: long
        # inputs would not fit otherwise (app/zoo/recompute.py).
        self.recompute = (
            LlamaAttentionRecompute(model, info.id) if model.config.model_type == "llama" else None
        )
        # The attention kernel is a setting of the shared model object: whoever switches it
        # holds this lock until the model is back on eager (see _kernel).
        self._kernel_lock = threading.Lock()

    def _run(
        self, source: Segment, tokens: TokenList, target: str | None, max_new_tokens: int
    ) -> AttentionRun:
        if self.recompute is None:
            with self._kernel_lock:
                return self._decode(source, target, max_new_tokens)
        with self._kernel("sdpa"):
            return self._decode(source, target, max_new_tokens)

    def budget(
        self, text: str, target: str | None, *, max_new_tokens: int, variant: str | None = None
    ) -> int:
        prompt = len(self._encode(text, add_special_tokens=True, what="text").ids)
        if target is None:
            return writing_budget(prompt, max_new_tokens, self.info.max_tokens)
        continuation = self._encode(target, add_special_tokens=False, what="target")
        check_together(prompt, len(continuation.ids), self.info.max_tokens, self.info.id)
        return max_new_tokens

    def generation(self, text: str, *, max_new_tokens: int) -> StepwiseGeneration:
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
        # Checked before the run (budget()); a caller that skipped it is refused here.
        check_together(len(prompt.ids), len(continuation.ids), self.info.max_tokens, self.info.id)
        sequence = prompt.ids + continuation.ids
        # One pass over the whole sequence gives full [T, T] matrices for prompt and continuation.
        blocks: Mapping[BlockName, np.ndarray]
        with reading_value_norms(self.value_sites) as norms:
            if self.recompute is None:
                out = self.model(input_ids=torch.tensor([sequence]), output_attentions=True)
                check_block_count(out.attentions, self.decoder_layers, self.info.id)
                blocks = blocks_by_name(out.attentions, decoder_self_attention)
            else:
                blocks = self._computed_blocks(self.recompute, sequence)
        tokens = self.tokens.token_list([prompt, continuation])
        return AttentionRun(
            blocks=blocks,
            target=tokens,
            target_input=tokens,
            value_norms=norms or None,
            output_text=output_text,
        )

    def _computed_blocks(
        self, recompute: LlamaAttentionRecompute, sequence: list[int]
    ) -> ComputedBlocks:
        """Blocks computed when read, from each layer's input (the base model's hidden states;
        no logits: nothing here needs them, and at 2048 tokens they are 400 MB)."""
        out = self.model.model(input_ids=torch.tensor([sequence]), output_hidden_states=True)
        inputs = out.hidden_states[: self.decoder_layers]  # the last entry is the final norm's
        check_block_count(inputs, self.decoder_layers, self.info.id)
        length, heads = len(sequence), self.info.heads

        def compute(name: BlockName, chosen: list[int] | None) -> np.ndarray:
            return recompute.weights(name.layer, inputs[name.layer], chosen)

        shapes = {decoder_self_attention(i): (heads, length, length) for i in range(len(inputs))}
        kept = sum(h.numel() * h.element_size() for h in inputs)
        every_block = len(inputs) * recompute.flops(length, heads)
        return ComputedBlocks(shapes, compute, kept, flops=every_block, model=self.info.id)
