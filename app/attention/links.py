"""A word-alignment link, in one order everywhere: source first, as Pharaoh notation writes
it. The alignment route turns links into its wire format ([target, source] pairs) itself."""

from typing import NamedTuple


class Link(NamedTuple):
    """Target token `target` translates source token `source`; both indices are 0-based."""

    source: int
    target: int


def reading_order(link: Link) -> tuple[int, int]:
    """Sort key: by target token, then source, the order a reader of the translation meets
    the links in."""
    return link.target, link.source
