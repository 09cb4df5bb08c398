"""What the Hugging Face adapters of every family share: the model and its tokenizer, reading
a text, and the start-up self-test. One class per family builds on it (hf_encoder.py,
hf_decoder.py, hf_encoder_decoder.py); app/zoo/huggingface.py loads a folder into the right
one."""

import logging
from abc import abstractmethod
from collections.abc import Callable, Hashable
from dataclasses import replace
from typing import Any, cast

import numpy as np
import torch
from transformers import PretrainedConfig

from app.attention.errors import InputError
from app.attention.names import BlockName
from app.attention.run import AttentionRun, TokenList
from app.zoo.base import Family, ModelAdapter, ModelInfo
from app.zoo.hf_tokens import HFTokens, Segment
from app.zoo.value_norms import ValueSites

log = logging.getLogger(__name__)

# A text and what the model read of it: its tokens, and their list for the run.
Reading = tuple[Segment, TokenList]


def layer_counts(config: PretrainedConfig, family: Family) -> tuple[int, int]:
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


def check_block_count(
    attentions: tuple[torch.Tensor, ...] | None, expected: int, what: str
) -> None:
    got = len(attentions or ())
    if got != expected:
        raise RuntimeError(
            f"{what}: the model returned {got} attention blocks for {expected} layers"
        )


def blocks_by_name(
    attentions: tuple[torch.Tensor, ...], name: Callable[[int], BlockName]
) -> dict[BlockName, np.ndarray]:
    """The first (only) batch row of each layer's weights, float32 numpy, by block name."""
    return {name(i): a[0].float().contiguous().numpy() for i, a in enumerate(attentions)}


class HuggingFaceAdapter(ModelAdapter):
    """A loaded Hugging Face model of one family (see the subclasses)."""

    def __init__(
        self, info: ModelInfo, model: Any, tokenizer: Any, value_sites: ValueSites | None = None
    ) -> None:
        self.info = info
        self.model = model
        self.tokenizer = tokenizer
        self.tokens = HFTokens(tokenizer)
        self.value_sites = value_sites
        self.encoder_layers, self.decoder_layers = layer_counts(model.config, info.family)
        # How a text is read; the encoder remembers its readings (hf_encoder.py).
        self._read: Callable[[str], Reading] = self._read_text

    @abstractmethod
    def _run(
        self, source: Segment, tokens: TokenList, target: str | None, max_new_tokens: int
    ) -> AttentionRun:
        """One run of the text read as `source` (its list: `tokens`), in inference mode."""

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
            return self._run(source, tokens, target, max_new_tokens)

    def self_test(self) -> None:
        """Fail at start-up, not on a user's request, if the model hides its attention; offer
        value-norm weighting only if every block's value vectors were found."""
        example = self.info.examples[0].text if self.info.examples else "Hello world"
        run = self.run(example, None, max_new_tokens=2)
        if self.value_sites and set(run.value_norms or ()) != set(run.blocks):
            log.warning("%s: value vectors not found for every block; no value norms", self.info.id)
            self.value_sites = None
        if self.value_sites:
            self.info = replace(self.info, weightings=["attention", "value_norm"])

    def reading_key(self, text: str, variant: str | None = None) -> Hashable:
        source, tokens = self._read(text)
        return tuple(source.ids), tuple(token.typed for token in tokens.tokens if token.typed)

    def tokens_in(self, reading: Hashable) -> int | None:
        ids, _ = cast(tuple[tuple[int, ...], object], reading)  # as reading_key made it
        return len(ids)

    def _read_text(self, text: str) -> Reading:
        """`text`'s tokens, special tokens added, and their list (see self._read)."""
        source = self._encode(text, add_special_tokens=True, what="text")
        return source, self.tokens.token_list([source])

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

    def _pad_id(self) -> int | None:
        pad = self.tokenizer.pad_token_id
        return int(pad) if pad is not None else self.tokenizer.eos_token_id
