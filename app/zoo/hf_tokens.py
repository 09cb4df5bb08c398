"""A Hugging Face tokenizer's tokens as the run contract's TokenList: each token's display
text, whether it is special, and which word of the text it belongs to.

Words come from the characters each token covers: the fast tokenizer's offsets for a text
the user typed, and for generated tokens (which have no text of their own) the growth of
the decoded text token by token. Those spans are mapped onto reader words
(app/attention/words.py), so "didn't", three WordPiece tokens, is one word.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.attention.run import TokenList
from app.attention.words import Span, token_word_ids

# Subword markers that only say where a word starts or continues: shown without them.
_WORD_START_MARKERS = ("Ġ", "▁")
_CONTINUATION_MARKER = "##"


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


@dataclass(frozen=True)
class Segment:
    """Token ids that came from one text, with each token's character span in it (None for
    a special token)."""

    text: str
    ids: list[int]
    spans: list[Span | None]


class HFTokens:
    """One tokenizer's tokens as the run contract's token lists. Display texts are cached by
    id: decoding token by token on every run would cost more than the analyses."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self.special_ids = frozenset(tokenizer.all_special_ids)
        self.unk_id: int | None = tokenizer.unk_token_id
        self._texts: dict[int, str] = {}  # filled as ids are seen; a race only repeats work

    def display(self, token_id: int) -> str:
        text = self._texts.get(token_id)
        if text is None:
            text = self._texts[token_id] = display_token(self.tokenizer, token_id)
        return text

    def encode(self, text: str, *, add_special_tokens: bool, as_target: bool = False) -> Segment:
        """Tokenize `text` (as a seq2seq target when `as_target`), remembering where each
        token came from."""
        role = {"text_target": text} if as_target else {"text": text}
        if not self.tokenizer.is_fast:
            # Python tokenizers have no offsets: decode the ids back, as for generated tokens.
            ids = self.tokenizer(**role, add_special_tokens=add_special_tokens)["input_ids"]
            return self.decoded(ids)
        encoded = self.tokenizer(
            **role,
            add_special_tokens=add_special_tokens,
            return_offsets_mapping=True,
            return_special_tokens_mask=True,
        )
        spans: list[Span | None] = [
            None if special else (int(start), int(end))
            for (start, end), special in zip(
                encoded["offset_mapping"], encoded["special_tokens_mask"], strict=True
            )
        ]
        return Segment(text, list(encoded["input_ids"]), spans)

    def decoded(self, ids: Sequence[int]) -> Segment:
        """Spans for ids with no text of their own (generated): token i covers what decoding
        the ids up to i adds to the text. Quadratic in the length, for the few generated
        tokens. Byte-level BPE and SentencePiece decode to the exact text; WordPiece decodes
        with spaces around punctuation, so there "didn't" comes back as three words."""
        text = ""
        kept: list[int] = []
        spans: list[Span | None] = []
        for token_id in ids:
            if token_id in self.special_ids:
                spans.append(None)
                continue
            kept.append(token_id)
            grown = self.tokenizer.decode(kept, clean_up_tokenization_spaces=False)
            spans.append((min(len(text), len(grown)), len(grown)))
            text = grown
        return Segment(text, list(ids), spans)

    def token_list(self, segments: Sequence[Segment]) -> TokenList:
        """One TokenList over consecutive segments (a prompt, then its continuation); a word
        never crosses from one segment into the next."""
        texts: list[str] = []
        word_ids: list[int] = []
        special: list[bool] = []
        typed: list[str | None] = []
        word_texts: dict[int, str] = {}
        offset = 0
        for segment in segments:
            ids, words = token_word_ids(segment.text, segment.spans)
            for token_id, span, word_id in zip(segment.ids, segment.spans, ids, strict=True):
                texts.append(self.display(token_id))
                word_ids.append(offset + word_id)
                special.append(span is None)
                unknown = token_id == self.unk_id and span is not None
                typed.append(segment.text[span[0] : span[1]] if unknown and span else None)
            word_texts.update({offset + word_id: text for word_id, text in words.items()})
            offset += max(ids, default=-1) + 1
        return TokenList.build(texts, word_ids, special, word_texts, typed)
