"""The mean over heads: one row set per block, shape [1, Q, K], rows still sum to 1."""

from dataclasses import replace

from app.attention.view import View, ViewBlock


def _mean(block: ViewBlock) -> ViewBlock:
    totals = block.row_totals
    return replace(
        block,
        data=block.data.mean(axis=0, keepdims=True),
        row_totals=None if totals is None else totals.mean(axis=0, keepdims=True),
    )


def mean_over_heads(view: View) -> View:
    return replace(view, blocks=map(_mean, view.blocks))
