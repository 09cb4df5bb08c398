"""Text handling for the zh->en translators: normalization, tokenization, detokenization.

Chinese is tokenized one character per token. Chinese has no spaces, a word segmenter
(jieba) makes errors on short Tatoeba sentences and multiplies the vocabulary, while about
2.7k characters cover the whole corpus; and one key per character is what the alignment
picture shows (我 爱 吃 苹 果, where "apples" lands on 苹/果).

English is tokenized by word, with punctuation and clitics ("n't", "'s", ...) split off
so that "Tom's" and "Tom" share a vocabulary entry. Case is kept, except that a word at
the start of a sentence is lowercased when its lowercase form is a known word
("The" -> "the", but "Tom" and "I" stay); detokenization capitalizes it back.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from functools import lru_cache

import opencc

PAD = "<pad>"
UNK = "<unk>"
BOS = "<s>"
EOS = "</s>"
SPECIAL_TOKENS = (PAD, UNK, BOS, EOS)

_CLITICS = ("'s", "'re", "'ve", "'ll", "'d", "'m")
_NEGATION = "n't"
_SENTENCE_END = frozenset({".", "!", "?"})
_NO_SPACE_BEFORE = frozenset({".", ",", "!", "?", ":", ";", "%", ")", "]", "}", "'", "..."})
_NO_SPACE_AFTER = frozenset({"(", "[", "{", "$"})
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"'})


@lru_cache(maxsize=1)
def _traditional_to_simplified() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def normalize_chinese(text: str) -> str:
    """Unify width forms (NFKC), convert traditional characters to simplified, drop
    invisible format characters (zero-width spaces) and surrounding whitespace."""
    text = unicodedata.normalize("NFKC", text)
    text = "".join(c for c in text if unicodedata.category(c) != "Cf")
    return str(_traditional_to_simplified().convert(text)).strip()


def tokenize_chinese(text: str) -> list[str]:
    """One token per non-space character of the normalized text."""
    return [c for c in normalize_chinese(text) if not c.isspace()]


def _split_word(chunk: str) -> list[str]:
    """Split one whitespace-free chunk into leading punctuation, the word with its
    clitic split off, and trailing punctuation."""
    start, end = 0, len(chunk)
    while start < end and not chunk[start].isalnum():
        start += 1
    while end > start and not chunk[end - 1].isalnum():
        end -= 1
    if "." in chunk[start:end] and chunk[end : end + 1] == ".":
        end += 1  # an abbreviation keeps its final dot: "a.m.", "L.A."
    lead = list(chunk[:start])
    core = chunk[start:end]
    trail = list(chunk[end:])
    words: list[str] = []
    lower = core.lower()
    if lower.endswith(_NEGATION) and len(core) > len(_NEGATION):
        words = [core[: -len(_NEGATION)], core[-len(_NEGATION) :]]
    else:
        for clitic in _CLITICS:
            if lower.endswith(clitic) and len(core) > len(clitic):
                words = [core[: -len(clitic)], core[-len(clitic) :]]
                break
    if not words and core:
        words = [core]
    return lead + words + trail


def tokenize_english(text: str) -> list[str]:
    """Cased word tokens: "Don't eat Tom's apples." -> Do n't eat Tom 's apples ."""
    text = unicodedata.normalize("NFKC", text).translate(_APOSTROPHES)
    tokens: list[str] = []
    for chunk in text.split():
        tokens.extend(_split_word(chunk))
    return tokens


def english_word_ids(tokens: Sequence[str]) -> list[int]:
    """The reader's word of each token: a clitic ("'s", "n't") joins the word before it, so
    Do n't -> "Don't" and Tom 's -> "Tom's"; every other token starts a word."""
    ids: list[int] = []
    for position, token in enumerate(tokens):
        lower = token.lower()
        attaches = lower == _NEGATION or lower in _CLITICS
        if attaches and position and tokens[position - 1][-1:].isalnum():
            ids.append(ids[-1])
        else:
            ids.append(position)
    return ids


def sentence_starts(tokens: Sequence[str]) -> list[bool]:
    """Whether each token opens a sentence: the first word of the text (after any
    opening punctuation) or a word right after ".", "!" or "?"."""
    starts = []
    seen_word = False
    previous = ""
    for token in tokens:
        is_word = token[:1].isalnum()
        starts.append(is_word and (not seen_word or previous in _SENTENCE_END))
        seen_word = seen_word or is_word
        previous = token
    return starts


def truecase(tokens: Sequence[str], is_known_lowercase: Callable[[str], bool]) -> list[str]:
    """Lowercase sentence-initial words whose lowercase form is a known word."""
    return [
        token.lower()
        if start and token != token.lower() and is_known_lowercase(token.lower())
        else token
        for token, start in zip(tokens, sentence_starts(tokens), strict=True)
    ]


def display_case(tokens: Sequence[str]) -> list[str]:
    """Capitalize sentence-initial words (the inverse of `truecase`)."""
    return [
        token[:1].upper() + token[1:] if start else token
        for token, start in zip(tokens, sentence_starts(tokens), strict=True)
    ]


def detokenize_english(tokens: Sequence[str]) -> str:
    """Join word tokens into cased English text: Do n't eat Tom 's apples . -> Don't eat
    Tom's apples."""
    pieces: list[str] = []
    attach_next = True
    open_quote = False
    for token in display_case([t for t in tokens if t not in SPECIAL_TOKENS]):
        attach = attach_next
        attach_next = False
        lower = token.lower()
        if token == '"':
            if open_quote:
                attach = True
            else:
                attach_next = True
            open_quote = not open_quote
        elif token in _NO_SPACE_BEFORE or lower == _NEGATION or lower in _CLITICS:
            attach = True
        if token in _NO_SPACE_AFTER:
            attach_next = True
        pieces.append(token if attach else " " + token)
    return "".join(pieces).strip()
