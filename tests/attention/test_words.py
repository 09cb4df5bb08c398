"""Reader words: what a person calls a word, and which word each token belongs to."""

import pytest

from app.attention.words import token_word_ids, word_spans


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("The animal didn't cross.", ["The", "animal", "didn't", "cross", "."]),
        ("an e-mail at 3.14, ok?!", ["an", "e-mail", "at", "3.14", ",", "ok", "?!"]),
        ("我爱吃苹果。", ["我", "爱", "吃", "苹果", "。"]),
        ("iPhone手机 (new)", ["iPhone", "手机", "(", "new", ")"]),
        ("Tom’s dog", ["Tom’s", "dog"]),
        ("", []),
    ],
)
def test_word_spans(text: str, words: list[str]) -> None:
    assert [text[a:b] for a, b in word_spans(text)] == words


def test_tokens_join_the_word_of_their_first_character() -> None:
    text = "they didn't go"
    # WordPiece-like: [CLS] they didn ' t go [SEP]
    spans = [None, (0, 4), (5, 9), (9, 10), (10, 11), (12, 14), None]
    ids, texts = token_word_ids(text, spans)
    assert ids[2] == ids[3] == ids[4] != ids[1]
    assert len(set(ids)) == 5
    assert texts[ids[2]] == "didn't"


def test_byte_level_tokens_carry_their_leading_space() -> None:
    text = "I didn't"
    ids, texts = token_word_ids(text, [(0, 1), (1, 6), (6, 8)])  # "I", " didn", "'t"
    assert ids[1] == ids[2] != ids[0]
    assert texts[ids[1]] == "didn't"


def test_whitespace_and_empty_tokens() -> None:
    text = "a\n\nb"
    ids, _ = token_word_ids(text, [(0, 1), (1, 3), (3, 4), (4, 4)])
    assert len({ids[0], ids[1], ids[2]}) == 3  # the line break is a token of its own
    assert ids[3] == ids[2]  # an empty span finishes the character before it
