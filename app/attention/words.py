"""Words as a reader sees them, and which word each token of a text belongs to.

A word is a run of letters and digits, joined through an apostrophe, hyphen or dot inside
it ("didn't", "e-mail", "3.14"), or a run of other non-space characters (",", "...").
Chinese has no spaces: a run of Han characters is cut into words by jieba, so 我爱吃苹果
reads 我 / 爱 / 吃 / 苹果. Model tokenizers split differently (WordPiece makes "didn't"
three tokens), so tokens are mapped onto these words by their character spans.
"""

import logging
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

_WORD = re.compile(r"\w+(?:['’.\-]\w+)*|[^\w\s]+")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")

Span = tuple[int, int]


@lru_cache(maxsize=1)
def _segmenter() -> Any:
    import jieba

    jieba.setLogLevel(logging.WARNING)  # it announces building its dictionary on stderr
    jieba.initialize()
    return jieba


def warm_up() -> None:
    """Load jieba's dictionary now (about a second) rather than on a user's first request."""
    _segmenter()


def word_spans(text: str) -> list[Span]:
    """The [start, end) character spans of the words of `text`, in order."""
    spans: list[Span] = []
    for match in _WORD.finditer(text):
        start, word = match.start(), match.group()
        if not _HAN.search(word):
            spans.append((start, match.end()))
            continue
        for piece in _segmenter().lcut(word):
            spans.append((start, start + len(piece)))
            start += len(piece)
    return spans


def token_word_ids(
    text: str, token_spans: Sequence[Span | None]
) -> tuple[list[int], dict[int, str]]:
    """Which word of `text` each token belongs to, and each word's text.

    `token_spans[i]` is the [start, end) of token i in `text`, or None for a token with no
    text of its own (a special token). A token joins the word of its first non-space
    character; a token with only spaces is a word of its own, and one with no characters at
    all (the rest of a character split across tokens) joins the token before it.
    Consecutive tokens with the same id are one word; the texts are keyed by id.
    """
    words = word_spans(text)
    word_at = [-1] * len(text)
    for index, (start, end) in enumerate(words):
        word_at[start:end] = [index] * (end - start)
    ids: list[int] = []
    texts: dict[int, str] = {}
    next_own = len(words)  # ids for tokens outside any word
    for span in token_spans:
        if span is None:
            ids.append(next_own)
            next_own += 1
            continue
        start, end = span
        inside = [word_at[i] for i in range(start, min(end, len(text))) if word_at[i] >= 0]
        if inside:
            ids.append(inside[0])
            word_start, word_end = words[inside[0]]
            texts[inside[0]] = text[word_start:word_end]
        elif start >= end and ids:
            ids.append(ids[-1])
        else:
            ids.append(next_own)
            texts[next_own] = text[start:end]
            next_own += 1
    return ids, texts
