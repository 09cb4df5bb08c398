"""Och & Ney's precision, recall and AER on alignments small enough to count by hand."""

import pytest

from app.attention.errors import InputError
from app.attention.links import Link
from app.attention.pharaoh import AlignmentCounts, count, format_links, parse_gold


def test_a_toy_alignment_scores_exactly() -> None:
    # S = {0-0, 1-1, 3-2, 4-2}, P = S ∪ {2-1}; A = {0-0, 1-1, 2-1, 2-2, 4-3}
    gold = parse_gold("0-0 1-1 2?1 3-2 4-2", source_length=5, target_length=4)
    counts = count({(0, 0), (1, 1), (2, 1), (2, 2), (4, 3)}, gold)
    assert counts == AlignmentCounts(predicted=5, sure=4, predicted_sure=2, predicted_possible=3)
    assert counts.precision == 3 / 5
    assert counts.recall == 2 / 4
    assert counts.aer == pytest.approx(1 - (2 + 3) / (5 + 4))


def test_a_perfect_and_an_empty_prediction() -> None:
    gold = parse_gold("0-0 1?1", 2, 2)
    assert count({(0, 0)}, gold).aer == 0.0  # every sure link, nothing outside P
    assert count({(0, 0), (1, 1)}, gold).aer == 0.0  # a possible link costs nothing
    empty = count(set(), gold)
    assert (empty.precision, empty.recall, empty.aer) == (0.0, 0.0, 1.0)


def test_corpus_scores_sum_counts_before_dividing() -> None:
    one = count({(0, 0)}, parse_gold("0-0", 1, 1))  # AER 0
    two = count({(0, 1), (1, 0)}, parse_gold("0-0 1-1 2-2", 3, 3))  # AER 1
    total = one + two
    assert total.aer == pytest.approx(1 - (1 + 1) / (3 + 4))  # not the mean of 0 and 1


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("0-0 1:1", "not Pharaoh notation"),
        ("0-0 -1-2", "not Pharaoh notation"),
        ("0-0 5-0", "out of range"),
        ("0-0 0-9", "out of range"),
        ("0?0 1?1", "no sure link"),
        ("", "no sure link"),
    ],
)
def test_bad_gold_is_refused_with_what_to_change(text: str, says: str) -> None:
    with pytest.raises(InputError, match=says):
        parse_gold(text, 3, 3)


def test_links_format_source_first_and_sorted() -> None:
    links = [Link(source=3, target=2), Link(source=0, target=0), Link(source=1, target=1)]
    assert format_links(links) == "0-0 1-1 3-2"


def test_gold_links_are_source_first() -> None:
    gold = parse_gold("2-0 0?1", source_length=3, target_length=2)
    assert gold.sure == {Link(source=2, target=0)}
    assert gold.possible == {Link(source=2, target=0), Link(source=0, target=1)}
