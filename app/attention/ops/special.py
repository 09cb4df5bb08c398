"""Dropping special tokens ([CLS], [SEP], <s>, </s>): attention sinks that crush the colour
scale. Their rows and columns go, and every remaining row is renormalized to sum to 1."""

from dataclasses import replace

import numpy as np

from app.attention.ops.rows import normalize_rows
from app.attention.view import View, ViewBlock


def drop_special_tokens(view: View) -> View:
    keep = {
        which: [i for i, label in enumerate(labels) if not label.special]
        for which, labels in view.labels.items()
    }

    def dropped(block: ViewBlock) -> ViewBlock:
        rows, cols = keep[block.name.axes.rows], keep[block.name.axes.cols]
        cut = block.data.take(rows, axis=1).take(cols, axis=2)  # (h, Q', K'), a copy
        data, kept_mass = normalize_rows(cut)
        totals = None
        if block.row_totals is not None:
            # still "the row's sum before normalizing", now over the keys that are left
            totals = (block.row_totals[:, rows] * kept_mass).astype(np.float32)
        return replace(block, data=data, row_totals=totals)

    labels = {which: [labels[i] for i in keep[which]] for which, labels in view.labels.items()}
    return View(labels, map(dropped, view.blocks))
