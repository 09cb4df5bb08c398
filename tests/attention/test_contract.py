"""The run contract: block names, their axes, token lists with words, shape checks."""

import numpy as np
import pytest

from app.attention.names import (
    AXES,
    BlockName,
    cross_attention,
    decoder_self_attention,
    encoder_self_attention,
)
from app.attention.run import AttentionRun, TokenList


def test_names_round_trip_and_sort_in_contract_order() -> None:
    names = [cross_attention(1), encoder_self_attention(2), decoder_self_attention(1)]
    assert [str(n) for n in names] == [
        "decoder.1.cross_attn",
        "encoder.2.self_attn",
        "decoder.1.self_attn",
    ]
    assert all(BlockName.parse(str(n)) == n for n in names)
    ordered = sorted(names, key=lambda n: n.sort_key)
    assert [str(n) for n in ordered] == [
        "encoder.2.self_attn",
        "decoder.1.self_attn",
        "decoder.1.cross_attn",
    ]


@pytest.mark.parametrize(
    "bad", ["encoder.0.cross_attn", "decoder.x.self_attn", "enc.0.self_attn", ""]
)
def test_malformed_names_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        BlockName.parse(bad)


def test_every_kind_says_which_tokens_label_it() -> None:
    assert (cross_attention(0).axes.rows, cross_attention(0).axes.cols) == ("target", "source")
    assert decoder_self_attention(0).axes.cols == "target_input"
    assert {(a.rows, a.cols) for a in AXES.values()} == {
        ("source", "source"),
        ("target", "target_input"),
        ("target", "source"),
    }


def test_token_lists_group_consecutive_tokens_into_words() -> None:
    tokens = TokenList.build(
        ["[CLS]", "didn", "'", "t", "go", "[SEP]"],
        [7, 1, 1, 1, 2, 8],
        [True, False, False, False, False, True],
        {1: "didn't", 2: "go"},
    )
    assert tokens.words == ("[CLS]", "didn't", "go", "[SEP]")
    assert [t.word for t in tokens.tokens] == [0, 1, 1, 1, 2, 3]
    assert tokens.groups() == [[0], [1, 2, 3], [4], [5]]
    joined = TokenList.build(["苹", "果"], [0, 0], [False, False])
    assert joined.words == ("苹果",)


def test_a_special_token_is_always_a_word_of_its_own() -> None:
    tokens = TokenList.build(["a", "</s>", "b"], [0, 0, 0], [False, True, False])
    assert tokens.words == ("a", "</s>", "b")


def test_shifted_right_is_what_a_teacher_forced_decoder_reads() -> None:
    target = TokenList.build(["Do", "n't", "go", "</s>"], [0, 0, 2, 3], [False, False, False, True])
    read = target.shifted_right("<s>")
    assert read.texts() == ["<s>", "Do", "n't", "go"]
    assert read.words == ("<s>", "Don't", "go")
    assert read.tokens[0].special


def test_a_block_that_does_not_fit_its_labels_is_refused() -> None:
    source = TokenList.build(["a", "b"], [0, 1], [False, False])
    with pytest.raises(ValueError, match=r"\[heads, 2, 2\]"):
        AttentionRun({encoder_self_attention(0): np.zeros((1, 2, 3), np.float32)}, source=source)
    run = AttentionRun(
        {encoder_self_attention(0): np.ones((1, 2, 2), np.float32) / 2}, source=source
    )
    with pytest.raises(ValueError):
        run.blocks[encoder_self_attention(0)][0, 0, 0] = 1.0  # a cached run is read-only
