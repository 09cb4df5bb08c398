"""The first step of every analysis: the layers and heads asked for, at token level."""

from app.attention.errors import InputError
from app.attention.names import TOKEN_LISTS, TokenListName
from app.attention.run import AttentionRun
from app.attention.view import Label, View, ViewBlock


def _ranges(values: list[int]) -> str:
    return f"{min(values)}-{max(values)}" if values else "none"


def check_selection(run: AttentionRun, layers: list[int] | None, heads: list[int] | None) -> None:
    """Raise InputError naming the valid range when a layer or head does not exist."""
    available = sorted({name.layer for name in run.blocks})
    missing = sorted(set(layers or ()) - set(available))
    if missing:
        raise InputError(
            f"layer {missing[0]} does not exist; this model has layers {_ranges(available)}"
        )
    head_count = min((run.shape(name)[0] for name in run.blocks), default=0)
    bad = sorted(h for h in set(heads or ()) if not 0 <= h < head_count)
    if bad:
        valid = _ranges(list(range(head_count)))
        raise InputError(f"head {bad[0]} does not exist; this model has heads {valid}")


def token_labels(run: AttentionRun) -> dict[TokenListName, list[Label]]:
    return {
        which: [
            Label(token.text, token.special, (position,), token.word)
            for position, token in enumerate(run.tokens(which).tokens)
        ]
        for which in TOKEN_LISTS
    }


def select(run: AttentionRun, layers: list[int] | None, heads: list[int] | None) -> View:
    """The blocks of the requested layers (all when None), cut to the requested heads, in
    contract order. The data are views of the run's read-only arrays when nothing is cut;
    a computed run computes each block (only its chosen heads) when the view reaches it."""
    check_selection(run, layers, heads)
    wanted = set(layers) if layers is not None else None
    head_index = sorted(set(heads)) if heads is not None else None
    names = [n for n in run.sorted_names() if wanted is None or n.layer in wanted]
    blocks = (
        ViewBlock(
            name,
            head_index if head_index is not None else list(range(run.shape(name)[0])),
            run.block(name, head_index),
        )
        for name in names
    )
    return View(token_labels(run), blocks)
