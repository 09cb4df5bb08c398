"""Inference: translate Chinese with a trained model and return every attention block.

`Translator` holds a read-only eval-mode model; a call keeps all of its state in local
variables and runs under torch.no_grad, so one Translator serves concurrent requests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from app.attention.names import BlockName
from app.attention.run import AttentionRun, TokenList
from app.attention.words import token_word_ids
from app.seq2seq.checkpoint import Checkpoint, default_variant, load_checkpoint, variant_names
from app.seq2seq.families import attention_layout, family_of
from app.seq2seq.search import beam_search, greedy_search
from app.seq2seq.text import (
    BOS,
    EOS,
    PAD,
    UNK,
    detokenize_english,
    display_case,
    english_word_ids,
    normalize_chinese,
    tokenize_chinese,
    tokenize_english,
    truecase,
)

# Markers of the sequence, not words: <unk> is left out, it stands for a real word.
_SPECIAL = frozenset({PAD, BOS, EOS})


@dataclass(frozen=True)
class Reading:
    """What the attention pass will read: the source, the target (forced, or generated
    first) and, when generated, the translation."""

    source: TokenList  # the characters the encoder sees, then </s>
    source_ids: list[int]
    target: TokenList  # per decoder step, the token emitted there (ends </s>)
    target_ids: list[int]
    output_text: str | None  # the detokenized translation; None when teacher-forced


def _unknown(texts: list[str], ids: list[int], unk_id: int) -> list[str | None]:
    """The typed text of each token the model reads as <unk>; None for the others."""
    return [text if i == unk_id else None for text, i in zip(texts, ids, strict=True)]


def _source_tokens(text: str, characters: list[str], ids: list[int], unk_id: int) -> TokenList:
    """The source characters (then </s>) with their words: jieba's, over the normalized text
    the characters were taken from. A character the model does not know shows as <unk>,
    what it reads, with the character kept as typed."""
    normalized = normalize_chinese(text)
    spans = [(i, i + 1) for i, c in enumerate(normalized) if not c.isspace()]
    word_ids, word_texts = token_word_ids(normalized, [*spans, None])
    special = [False] * len(characters) + [True]
    typed = [*_unknown(characters, ids[: len(characters)], unk_id), None]
    shown = [UNK if t is not None else c for c, t in zip(characters, typed, strict=False)]
    return TokenList.build([*shown, EOS], word_ids, special, word_texts, typed)


def _target_tokens(texts: list[str], ids: list[int], unk_id: int) -> TokenList:
    special = [t in _SPECIAL for t in texts]
    typed = _unknown(texts, ids, unk_id)
    shown = [UNK if t is not None else text for text, t in zip(texts, typed, strict=True)]
    return TokenList.build(shown, english_word_ids(texts), special, typed=typed)


class Translator:
    """A trained zh->en model loaded from its folder under models/."""

    def __init__(self, checkpoint: Checkpoint, variants: Sequence[str] = ()) -> None:
        self.checkpoint = checkpoint
        self.model = checkpoint.model.eval()
        self.source_vocab = checkpoint.source_vocab
        self.target_vocab = checkpoint.target_vocab
        self.family = family_of(checkpoint.config)
        self.variant = checkpoint.variant
        self.variants = list(variants)
        self.layers, self.heads = attention_layout(checkpoint.config)
        # the source limit counts the </s> the encoder appends; the target limit counts
        # the </s> the decoder emits
        self.max_source_tokens = checkpoint.config.max_source_len - 1
        self.max_target_tokens = checkpoint.config.max_target_len - 1
        self._banned_ids = [
            self.target_vocab.pad_id,
            self.target_vocab.unk_id,
            self.target_vocab.bos_id,
        ]

    @classmethod
    def load(cls, model_dir: Path, variant: str | None = None) -> Translator:
        """Load models/<id>/; for a folder of variants (Luong scores) `variant` picks one,
        defaulting to the family's default variant ("general")."""
        model_dir = Path(model_dir)
        if not model_dir.is_dir():
            raise FileNotFoundError(f"no model folder at {model_dir}")
        variants = variant_names(model_dir)
        if not variants:
            if variant is not None:
                raise ValueError(f"{model_dir.name} has no variants; got variant={variant!r}")
            return cls(load_checkpoint(model_dir))
        if variant is None:
            variant = default_variant(model_dir, variants)
        if variant not in variants:
            raise ValueError(
                f"unknown variant {variant!r} of {model_dir.name}; choose one of {variants}"
            )
        return cls(load_checkpoint(model_dir / variant), variants)

    def source_ids(self, text: str) -> tuple[list[str], list[int]]:
        """Display tokens and ids of a Chinese text, </s> included."""
        tokens = tokenize_chinese(text)
        if not tokens:
            raise ValueError("the text to translate is empty; type a Chinese sentence")
        if len(tokens) > self.max_source_tokens:
            raise ValueError(
                f"the text has {len(tokens)} characters; this model reads at "
                f"most {self.max_source_tokens}"
            )
        ids = self.source_vocab.encode(tokens)
        if all(i == self.source_vocab.unk_id for i in ids):
            raise ValueError(
                "none of the characters of the text are known to this model; "
                "it translates Chinese (simplified or traditional) to English"
            )
        return [*tokens, EOS], [*ids, self.source_vocab.eos_id]

    def read(
        self,
        text: str,
        target: str | None = None,
        max_new_tokens: int = 64,
        beam_size: int = 1,
    ) -> Reading:
        """Tokenize `text` and either translate it (greedy, or beam search with beam_size > 1)
        or tokenize the English `target` to force through the decoder."""
        source_texts, source = self.source_ids(text)
        output_text: str | None = None
        if target is None:
            target_texts, target_ids, output_text = self._generate_target(
                source, max_new_tokens, beam_size
            )
        else:
            target_texts, target_ids = self.target_ids(target)
        return Reading(
            source=_source_tokens(text, source_texts[:-1], source, self.source_vocab.unk_id),
            source_ids=source,
            target=_target_tokens(target_texts, target_ids, self.target_vocab.unk_id),
            target_ids=target_ids,
            output_text=output_text,
        )

    def attention_run(self, reading: Reading) -> AttentionRun:
        """One teacher-forced pass over the reading: the attention of every block."""
        target_in = [self.target_vocab.bos_id, *reading.target_ids[:-1]]
        return AttentionRun(
            blocks=self._attention(reading.source_ids, target_in),
            source=reading.source,
            target=reading.target,
            target_input=reading.target.shifted_right(BOS),
            output_text=reading.output_text,
        )

    def attend(
        self,
        text: str,
        target: str | None = None,
        max_new_tokens: int = 64,
        beam_size: int = 1,
    ) -> AttentionRun:
        """Translate `text`, or read the English `target` teacher-forced; return the
        attention of every block for the resulting target tokens."""
        return self.attention_run(self.read(text, target, max_new_tokens, beam_size))

    def target_ids(self, target: str) -> tuple[list[str], list[int]]:
        """Display tokens (as the user wrote them) and ids of an English text, </s>
        included."""
        words = tokenize_english(target)
        if not words:
            raise ValueError("the target translation is empty; type an English sentence")
        if len(words) > self.max_target_tokens:
            raise ValueError(
                f"the target has {len(words)} tokens; this model reads at "
                f"most {self.max_target_tokens}"
            )
        ids = self.target_vocab.encode(truecase(words, self.target_vocab.__contains__))
        return [*words, EOS], [*ids, self.target_vocab.eos_id]

    def _generate_target(
        self, source: list[int], max_new_tokens: int, beam_size: int
    ) -> tuple[list[str], list[int], str]:
        """Display tokens, ids and text of the translation; </s> is the last token unless
        `max_new_tokens` ran out first."""
        eos = self.target_vocab.eos_id
        generated = self._generate([source], max_new_tokens, beam_size)[0]
        words = self.target_vocab.decode(i for i in generated if i != eos)
        finished = [EOS] if generated[-1:] == [eos] else []
        return display_case(words) + finished, generated, detokenize_english(words)

    def translate(
        self,
        texts: Sequence[str],
        beam_size: int = 1,
        max_new_tokens: int = 64,
        batch_size: int = 64,
    ) -> list[str]:
        """Detokenized translations of many texts (for evaluation). Texts are batched by
        length, and a batch stops after twice its longest source plus 10 tokens."""
        sources = [self.source_ids(text)[1] for text in texts]
        order = sorted(range(len(sources)), key=lambda i: len(sources[i]))
        outputs = [""] * len(sources)
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            longest = max(len(sources[i]) for i in batch)
            limit = min(max_new_tokens, 2 * longest + 10)
            generated = self._generate([sources[i] for i in batch], limit, beam_size)
            for i, ids in zip(batch, generated, strict=True):
                outputs[i] = detokenize_english(self.target_vocab.decode(ids))
        return outputs

    def _generate(
        self, sources: list[list[int]], max_new_tokens: int, beam_size: int
    ) -> list[list[int]]:
        if max_new_tokens < 1:
            raise ValueError("max_new_tokens must be at least 1")
        if beam_size < 1:
            raise ValueError("beam_size must be at least 1")
        max_new_tokens = min(max_new_tokens, self.max_target_tokens + 1)
        source, source_mask = self._pad(sources)
        vocab = self.target_vocab
        with torch.no_grad():
            if beam_size == 1:
                return greedy_search(
                    self.model,
                    source,
                    source_mask,
                    vocab.bos_id,
                    vocab.eos_id,
                    max_new_tokens,
                    self._banned_ids,
                )
            return beam_search(
                self.model,
                source,
                source_mask,
                vocab.bos_id,
                vocab.eos_id,
                max_new_tokens,
                beam_size,
                self._banned_ids,
            )

    def _attention(self, source: list[int], target_in: list[int]) -> dict[BlockName, np.ndarray]:
        with torch.no_grad():
            source_tensor = torch.tensor([source])  # (1, S)
            mask = torch.ones_like(source_tensor, dtype=torch.bool)  # (1, S)
            _, blocks = self.model(source_tensor, mask, torch.tensor([target_in]))  # (1, T)
        return {name: weights[0].float().contiguous().numpy() for name, weights in blocks.items()}

    def _pad(self, sources: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        width = max(len(ids) for ids in sources)
        pad = self.source_vocab.pad_id
        source = torch.tensor([ids + [pad] * (width - len(ids)) for ids in sources])  # (B, S)
        return source, source != pad
