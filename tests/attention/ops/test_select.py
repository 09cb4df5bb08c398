"""The first step of every analysis: the layers and heads asked for, labelled by token."""

import numpy as np
import pytest

from app.attention.errors import InputError
from app.attention.names import decoder_self_attention, encoder_self_attention
from app.attention.ops.select import check_selection, select
from app.attention.run import AttentionRun, TokenList
from app.attention.view import Label

# Two layers of two heads over three tokens; every weight is written out so the test can
# name the numbers it expects. Head h of layer l puts weight 0.5 on key (h + l) mod 3.
LAYER_0 = np.array(
    [
        [[0.5, 0.25, 0.25], [0.5, 0.25, 0.25], [0.5, 0.25, 0.25]],
        [[0.25, 0.5, 0.25], [0.25, 0.5, 0.25], [0.25, 0.5, 0.25]],
    ],
    dtype=np.float32,
)
LAYER_1 = np.array(
    [
        [[0.25, 0.5, 0.25], [0.25, 0.5, 0.25], [0.25, 0.5, 0.25]],
        [[0.25, 0.25, 0.5], [0.25, 0.25, 0.5], [0.25, 0.25, 0.5]],
    ],
    dtype=np.float32,
)


def _run() -> AttentionRun:
    source = TokenList.build(["[CLS]", "did", "n't"], [-1, 0, 0], [True, False, False])
    # Built out of order: selection puts them in contract order.
    return AttentionRun(
        {encoder_self_attention(1): LAYER_1, encoder_self_attention(0): LAYER_0}, source=source
    )


def test_everything_in_contract_order_at_token_level() -> None:
    view = select(_run(), None, None)
    blocks = list(view.blocks)
    assert [b.name for b in blocks] == [encoder_self_attention(0), encoder_self_attention(1)]
    assert [b.heads for b in blocks] == [[0, 1], [0, 1]]
    assert np.array_equal(blocks[0].data, LAYER_0) and np.array_equal(blocks[1].data, LAYER_1)
    assert all(b.row_totals is None for b in blocks)
    assert view.labels["source"] == [
        Label("[CLS]", True, (0,), 0),
        Label("did", False, (1,), 1),
        Label("n't", False, (2,), 1),  # one token per label, each keeping its word
    ]
    assert view.labels["target"] == [] and view.labels["target_input"] == []


def test_a_layer_and_a_head_are_cut_out() -> None:
    (block,) = select(_run(), [1], [1]).blocks
    assert block.name == encoder_self_attention(1) and block.heads == [1]
    assert block.data.tolist() == [[[0.25, 0.25, 0.5]] * 3]


def test_heads_come_in_model_order_however_they_are_asked() -> None:
    (block,) = select(_run(), [0], [1, 0, 1]).blocks
    assert block.heads == [0, 1]
    assert np.array_equal(block.data, LAYER_0)


@pytest.mark.parametrize(
    ("layers", "heads", "says"),
    [
        ([2], None, "layer 2 does not exist; this model has layers 0-1"),
        (None, [2], "head 2 does not exist; this model has heads 0-1"),
        ([0], [-1], "head -1 does not exist"),
    ],
)
def test_what_does_not_exist_is_refused_with_the_valid_range(
    layers: list[int] | None, heads: list[int] | None, says: str
) -> None:
    with pytest.raises(InputError, match=says):
        check_selection(_run(), layers, heads)


def test_a_decoder_block_is_labelled_by_target_and_target_input() -> None:
    target = TokenList.build(["a", "</s>"], [0, 1], [False, True])
    run = AttentionRun(
        {decoder_self_attention(0): np.array([[[1.0, 0.0], [0.5, 0.5]]], dtype=np.float32)},
        target=target,
        target_input=target.shifted_right("<s>"),
    )
    view = select(run, None, None)
    (block,) = view.blocks
    assert [label.text for label in view.rows(block)] == ["a", "</s>"]
    assert [label.text for label in view.cols(block)] == ["<s>", "a"]
