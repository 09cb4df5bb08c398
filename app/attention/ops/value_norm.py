"""Value-weighted attention (Kobayashi et al., 2020, "Attention is Not Only a Weight").

A weight α_ij says how much query i reads key j; what that moves into head h's share of
the output is α_ij f_h(x_j), with f_h(x_j) = (x_j W_V + b_V) W_O^h. Its size,
||α_ij f_h(x_j)|| = α_ij ||f_h(x_j)||, is the influence: a large weight on a key whose
transformed value is tiny moves almost nothing.
"""

from dataclasses import replace

from app.attention.errors import InputError
from app.attention.ops.rows import normalize_rows
from app.attention.run import AttentionRun
from app.attention.view import View, ViewBlock


def weight_by_value_norm(view: View, run: AttentionRun) -> View:
    """Each weight times its key's value norm, rows normalized to sum to 1; row_totals keeps
    Σ_j α_ij ||f_h(x_j)|| per head and row, so the scale is not lost."""
    if run.value_norms is None:
        raise InputError("this model's value vectors are not available; use weighting 'attention'")
    value_norms = run.value_norms

    def weighted(block: ViewBlock) -> ViewBlock:
        norms = value_norms[block.name][block.heads]  # (h, K)
        data, totals = normalize_rows(block.data * norms[:, None, :])  # (h, Q, K), (h, Q)
        return replace(block, data=data, row_totals=totals)

    return replace(view, blocks=map(weighted, view.blocks))
