import pytest

from app.seq2seq.text import (
    detokenize_english,
    normalize_chinese,
    tokenize_chinese,
    tokenize_english,
    truecase,
)


def test_chinese_is_one_token_per_character_in_simplified_form() -> None:
    assert tokenize_chinese(" 我愛吃蘋果！") == ["我", "爱", "吃", "苹", "果", "!"]
    assert normalize_chinese("\u200b你好\u200b") == "你好"


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("I love apples.", ["I", "love", "apples", "."]),
        ("Don't eat Tom's cake!", ["Do", "n't", "eat", "Tom", "'s", "cake", "!"]),
        ("I got up at 6 a.m. today.", ["I", "got", "up", "at", "6", "a.m.", "today", "."]),
        ('"Look," she said.', ['"', "Look", ",", '"', "she", "said", "."]),
        ("It costs $5, 100% sure.", ["It", "costs", "$", "5", ",", "100", "%", "sure", "."]),
        ("My parents' car.", ["My", "parents", "'", "car", "."]),
    ],
)
def test_english_tokens_round_trip(text: str, tokens: list[str]) -> None:
    assert tokenize_english(text) == tokens
    assert detokenize_english(tokens) == text


def test_truecasing_lowercases_only_known_words_at_sentence_starts() -> None:
    known = {"the", "cat", "is", "here", "he", "left"}.__contains__
    tokens = tokenize_english("The cat is here. He left. Tom is here. I left.")
    assert truecase(tokens, known) == [
        "the",
        "cat",
        "is",
        "here",
        ".",
        "he",
        "left",
        ".",
        "Tom",
        "is",
        "here",
        ".",
        "I",
        "left",
        ".",
    ]
    assert detokenize_english(truecase(tokens, known)) == (
        "The cat is here. He left. Tom is here. I left."
    )


def test_detokenize_drops_special_tokens_and_capitalizes() -> None:
    assert detokenize_english(["<s>", "i", "love", "apples", ".", "</s>"]) == "I love apples."
