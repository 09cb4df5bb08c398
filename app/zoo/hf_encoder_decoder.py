"""A Hugging Face encoder-decoder (BART, T5): a source and its translation (generated,
or a given target) in; the encoder's self-attention, the decoder's causal self-attention and
its cross-attention onto the source (the alignment) out."""

import torch

from app.attention.errors import InputError
from app.attention.names import cross_attention, decoder_self_attention, encoder_self_attention
from app.attention.run import AttentionRun, TokenList
from app.zoo.hf_adapter import HuggingFaceAdapter, blocks_by_name, check_block_count
from app.zoo.hf_tokens import Segment
from app.zoo.value_norms import reading_value_norms


class HFEncoderDecoderAdapter(HuggingFaceAdapter):
    def _run(
        self, source: Segment, tokens: TokenList, target: str | None, max_new_tokens: int
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
        check_block_count(out.encoder_attentions, self.encoder_layers, f"{self.info.id} encoder")
        check_block_count(out.decoder_attentions, self.decoder_layers, f"{self.info.id} decoder")
        check_block_count(out.cross_attentions, self.decoder_layers, f"{self.info.id} cross")
        target_tokens = self.tokens.token_list([emitted])
        return AttentionRun(
            blocks={
                **blocks_by_name(out.encoder_attentions, encoder_self_attention),
                **blocks_by_name(out.decoder_attentions, decoder_self_attention),
                **blocks_by_name(out.cross_attentions, cross_attention),
            },
            source=tokens,
            target=target_tokens,
            target_input=target_tokens.shifted_right(self.tokenizer.convert_ids_to_tokens(start)),
            value_norms=norms or None,
            output_text=output_text,
        )

    def budget(
        self, text: str, target: str | None, *, max_new_tokens: int, variant: str | None = None
    ) -> int:
        # The decoder's tokens have a limit of their own, apart from the source's.
        if target is not None:
            self._target_segment(target)
            return max_new_tokens
        return min(max_new_tokens, self.info.max_tokens)

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
