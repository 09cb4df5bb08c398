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
    character. A token of one space (byte-level BPE splits its word-start marker off before
    some characters) joins the word after it; one with no characters at all (the rest of a
    character split across tokens) joins the word before it; any other token of only
    whitespace (a line break) is a word of its own. Consecutive tokens with the same id are
    one word; the texts are keyed by id.
    """
    words = word_spans(text)
    word_at = [-1] * len(text)
    for index, (start, end) in enumerate(words):
        word_at[start:end] = [index] * (end - start)
    found: list[int | None] = []  # the reader word of each token, where it has one
    for span in token_spans:
        inside = [] if span is None else [i for i in word_at[span[0] : span[1]] if i >= 0]
        found.append(inside[0] if inside else None)
    ids: list[int] = []
    texts = {index: text[start:end] for index, (start, end) in enumerate(words)}
    next_own = len(words)  # ids for tokens outside every word
    for position, (span, word) in enumerate(zip(token_spans, found, strict=True)):
        following = found[position + 1] if position + 1 < len(found) else None
        if word is not None:
            ids.append(word)
        elif span is not None and text[span[0] : span[1]] == " " and following is not None:
            ids.append(following)
        elif span is not None and span[0] >= span[1] and ids and token_spans[position - 1]:
            ids.append(ids[-1])
        else:  # a special token, or whitespace: shown as the token is (e.g. "↵")
            ids.append(next_own)
            next_own += 1
    return ids, texts
