"""Word alignments in Pharaoh notation, and how well one matches a gold standard.

Pharaoh notation lists links as `i-j`, source index first, separated by spaces; a gold
standard also has possible links, `i?j` (Och & Ney, 2003: a sure link is one every careful
annotator makes, a possible one is ambiguous). Indices are 0-based.

Scores follow Och & Ney (2003), with A the predicted links, S the sure and P the sure and
possible gold links (S ⊆ P):
    precision = |A ∩ P| / |A|    recall = |A ∩ S| / |S|
    AER = 1 − (|A ∩ S| + |A ∩ P|) / (|A| + |S|)
Over a corpus the counts are summed before dividing, as the usual evaluation scripts do.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass

from app.attention.errors import InputError
from app.attention.links import Link

_LINK = re.compile(r"(\d+)([-?])(\d+)")


@dataclass(frozen=True)
class GoldAlignment:
    sure: frozenset[Link]
    possible: frozenset[Link]  # sure links included: P ⊇ S


def parse_gold(text: str, source_length: int, target_length: int) -> GoldAlignment:
    """Read `i-j` (sure) and `i?j` (possible) links; refuse anything else, naming it."""
    sure: set[Link] = set()
    possible: set[Link] = set()
    for item in text.split():
        match = _LINK.fullmatch(item)
        if match is None:
            raise InputError(
                f"gold link '{item[:40]}' is not Pharaoh notation: write 'i-j' for a sure link "
                "or 'i?j' for a possible one, i the source index and j the target index, "
                "separated by spaces (e.g. '0-0 1-1 3-2 4?2')"
            )
        source, mark, target = int(match[1]), match[2], int(match[3])
        if source >= source_length or target >= target_length:
            raise InputError(
                f"gold link '{item}' is out of range: the source has {source_length} tokens "
                f"(0-{source_length - 1}) and the target {target_length} (0-{target_length - 1})"
            )
        (sure if mark == "-" else possible).add(Link(source, target))
    if not sure:
        raise InputError(
            "the gold alignment has no sure link ('i-j'): recall and AER are measured against "
            "the sure links"
        )
    return GoldAlignment(frozenset(sure), frozenset(sure | possible))


def format_links(links: Iterable[Link]) -> str:
    """Links as a Pharaoh string, sorted by source then target index."""
    return " ".join(f"{source}-{target}" for source, target in sorted(links))


@dataclass(frozen=True)
class AlignmentCounts:
    """The counts the scores are made of; add them up over a corpus."""

    predicted: int = 0  # |A|
    sure: int = 0  # |S|
    predicted_sure: int = 0  # |A ∩ S|
    predicted_possible: int = 0  # |A ∩ P|

    def __add__(self, other: "AlignmentCounts") -> "AlignmentCounts":
        return AlignmentCounts(
            self.predicted + other.predicted,
            self.sure + other.sure,
            self.predicted_sure + other.predicted_sure,
            self.predicted_possible + other.predicted_possible,
        )

    @property
    def precision(self) -> float:
        """|A ∩ P| / |A|; 0 when nothing was predicted."""
        return self.predicted_possible / self.predicted if self.predicted else 0.0

    @property
    def recall(self) -> float:
        return self.predicted_sure / self.sure if self.sure else 0.0

    @property
    def aer(self) -> float:
        total = self.predicted + self.sure
        return 1.0 - (self.predicted_sure + self.predicted_possible) / total if total else 0.0


def count(predicted: Iterable[Link], gold: GoldAlignment) -> AlignmentCounts:
    links = set(predicted)
    return AlignmentCounts(
        predicted=len(links),
        sure=len(gold.sure),
        predicted_sure=len(links & gold.sure),
        predicted_possible=len(links & gold.possible),
    )
