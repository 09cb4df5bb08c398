"""Word level: a word's row is the mean of its tokens' rows, its column their sum."""

import numpy as np

from app.attention.names import TokenListName, cross_attention, encoder_self_attention
from app.attention.ops.words import merge_words
from app.attention.run import AttentionRun, TokenList
from app.attention.view import Label, View, ViewBlock


def test_self_attention_merged_into_words_by_hand() -> None:
    source = TokenList.build(["I", "did", "n't"], [0, 1, 1], [False, False, False])
    data = np.array(
        [
            [
                [0.5, 0.25, 0.25],  # I: columns summed per word -> (0.5, 0.5)
                [0.2, 0.4, 0.4],  # did -> (0.2, 0.8)
                [0.1, 0.1, 0.8],  # n't -> (0.1, 0.9)
            ]
        ],
        dtype=np.float32,
    )
    run = AttentionRun({encoder_self_attention(0): data}, source=source)
    labels: dict[TokenListName, list[Label]] = {
        "source": [
            Label("I", False, (0,), 0),
            Label("did", False, (1,), 1),
            Label("n't", False, (2,), 1),
        ]
    }
    totals = np.array([[1.0, 2.0, 4.0]], dtype=np.float32)
    merged = merge_words(
        View(labels, [ViewBlock(encoder_self_attention(0), [0], data, totals)]), run
    )
    (block,) = merged.blocks
    # didn't's row: the mean of (0.2, 0.8) and (0.1, 0.9)
    np.testing.assert_allclose(block.data, [[[0.5, 0.5], [0.15, 0.85]]], atol=1e-7)
    assert block.row_totals is not None
    np.testing.assert_allclose(block.row_totals, [[1.0, 3.0]])  # the mean of 2 and 4
    assert merged.labels["source"] == [
        Label("I", False, (0,), 0),
        Label("didn't", False, (1, 2), 1),
    ]


def test_cross_attention_after_special_tokens_were_dropped() -> None:
    # 我 苹 果 </s> -> 我 / 苹果; ap ples </s> -> apples / </s>. The source's </s> is already
    # gone from the view (special tokens dropped), so labels keep run positions and words.
    source = TokenList.build(["我", "苹", "果", "</s>"], [0, 1, 1, 2], [False, False, False, True])
    target = TokenList.build(["ap", "ples", "</s>"], [0, 0, 1], [False, False, True])
    data = np.array(
        [
            [
                [0.2, 0.6, 0.2],  # ap -> (0.2, 0.8)
                [0.4, 0.1, 0.5],  # ples -> (0.4, 0.6)
                [0.5, 0.25, 0.25],  # </s> -> (0.5, 0.5)
            ]
        ],
        dtype=np.float32,
    )
    full = np.zeros((1, 3, 4), dtype=np.float32)
    run = AttentionRun({cross_attention(0): full}, source=source, target=target)
    labels: dict[TokenListName, list[Label]] = {
        "source": [
            Label("我", False, (0,), 0),
            Label("苹", False, (1,), 1),
            Label("果", False, (2,), 1),
        ],
        "target": [
            Label("ap", False, (0,), 0),
            Label("ples", False, (1,), 0),
            Label("</s>", True, (2,), 1),
        ],
    }
    merged = merge_words(View(labels, [ViewBlock(cross_attention(0), [0], data)]), run)
    (block,) = merged.blocks
    # apples: the mean of (0.2, 0.8) and (0.4, 0.6)
    np.testing.assert_allclose(block.data, [[[0.3, 0.7], [0.5, 0.5]]], atol=1e-7)
    assert block.row_totals is None
    assert merged.labels["source"] == [Label("我", False, (0,), 0), Label("苹果", False, (1, 2), 1)]
    assert merged.labels["target"] == [
        Label("apples", False, (0, 1), 0),
        Label("</s>", True, (2,), 1),
    ]
