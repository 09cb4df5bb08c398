"""The mean over heads: one row set per block, shape [1, Q, K], rows still sum to 1."""

from dataclasses import replace

from app.attention.view import View


def mean_over_heads(view: View) -> View:
    blocks = [
        replace(
            block,
            data=block.data.mean(axis=0, keepdims=True),
            row_totals=None
            if block.row_totals is None
            else block.row_totals.mean(axis=0, keepdims=True),
        )
        for block in view.blocks
    ]
    return replace(view, blocks=blocks)
