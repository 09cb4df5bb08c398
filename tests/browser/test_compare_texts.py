"""Two texts compared on one model: both drawn on one colour scale, and their difference A − B
where the token sequences line up position by position."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import opened, run_text
from tests.conftest import DEMO_SENTENCE

pytestmark = pytest.mark.browser

WIDE = DEMO_SENTENCE.replace("tired", "wide")


def _trace(page: Page, div: str) -> dict:
    """The plotted matrix of `div`'s heatmap and its colour range."""
    trace: dict = page.evaluate(
        "(id) => { const { z, zmin, zmax } = document.getElementById(id).data[0];"
        " return { z, zmin, zmax }; }",
        div,
    )
    return trace


def _compared(page: Page) -> None:
    page.wait_for_selector("#pair-b .main-svg")
    expect(page.locator("#pair-status")).not_to_have_class("status busy")


def _assert_clean(page: Page) -> None:
    watch = page.watch  # type: ignore[attr-defined]
    assert watch.hosts == {"127.0.0.1"}
    assert watch.errors == []


def test_tired_and_wide_share_a_colour_scale_and_draw_their_difference(page: Page) -> None:
    run_text(page, DEMO_SENTENCE)
    page.click('#overview .thumb[data-layer="3"][data-head="1"]')
    page.wait_for_selector('#heatmap[data-layer="3"][data-head="1"] .main-svg')
    page.fill("#pair-text", WIDE)
    page.click("#pair-run")
    page.wait_for_selector("#pair-diff .main-svg")
    _compared(page)
    expect(page).to_have_url(re.compile(r"&compare=The\+animal.*too\+wide$"))
    expect(page.locator("#pair-status")).to_have_text("Encoder self-attention, layer 3, head 1")

    a, b, diff = (_trace(page, div) for div in ("pair-a", "pair-b", "pair-diff"))
    # A is the view above, the same numbers as the focused heatmap.
    assert a["z"] == page.evaluate("document.getElementById('heatmap').data[0].z")
    assert len(a["z"]) == len(b["z"]) == 15  # "tired" and "wide" are one token each
    top = max(max(row) for row in a["z"] + b["z"])
    assert a["zmin"] == b["zmin"] == 0 and a["zmax"] == b["zmax"] == top
    for row_a, row_b, row_d in zip(a["z"], b["z"], diff["z"], strict=True):
        assert row_d == pytest.approx([x - y for x, y in zip(row_a, row_b, strict=True)], abs=1e-9)
    extent = max(abs(v) for row in diff["z"] for v in row)
    assert diff["zmin"] == -diff["zmax"] and diff["zmax"] == pytest.approx(extent)
    labels = page.locator("#pair-diff .ytick text").all_text_contents()
    assert labels[13] == "tired / wide" and labels[:3] == ["[CLS]", "the", "animal"]
    expect(page.locator("#pair-caption")).to_contain_text("1 position differs")
    expect(page.locator("#pair-a-text")).to_have_text(DEMO_SENTENCE)
    expect(page.locator("#pair-b-text")).to_have_text(WIDE)

    # The comparison follows the view: another head redraws both with it.
    page.select_option("#head", "5")
    expect(page.locator("#pair-status")).to_have_text("Encoder self-attention, layer 3, head 5")
    assert _trace(page, "pair-a")["z"] != a["z"]

    # It is part of the link.
    with opened(page, page.url) as other:
        other.wait_for_selector("#pair-diff .main-svg")
        _compared(other)
        expect(other.locator("#pair-text")).to_have_value(WIDE)
        assert _trace(other, "pair-diff") == _trace(page, "pair-diff")
        _assert_clean(other)

    page.click("#pair-close")
    expect(page.locator("#pair-a")).to_be_hidden()
    expect(page).not_to_have_url(re.compile("compare="))
    _assert_clean(page)


def test_texts_that_do_not_line_up_get_a_message_instead_of_a_difference(page: Page) -> None:
    run_text(page, "The animal was very tired")
    # "unbelievably" is several WordPiece tokens, "very" one: the tokens do not line up...
    page.fill("#pair-text", "The animal was unbelievably tired")
    page.click("#pair-run")
    _compared(page)
    expect(page.locator("#pair-caption")).to_contain_text("No difference drawn: A has 7 × 7")
    expect(page.locator("#pair-diff .main-svg")).to_have_count(0)
    expect(page.locator("#pair-a .main-svg").first).to_be_visible()

    # ...but the words do.
    page.check("#granularity-word")
    page.wait_for_selector("#pair-diff .main-svg")
    _compared(page)
    labels = page.locator("#pair-diff .xtick text").all_text_contents()
    assert labels == ["[CLS]", "The", "animal", "was", "very / unbelievably", "tired", "[SEP]"]

    # A text B the model refuses ends the comparison with the server's reason.
    page.fill("#pair-text", "word " * 600)
    page.click("#pair-run")
    expect(page.locator("#pair-error")).to_contain_text("B could not be compared")
    expect(page.locator("#pair-error")).to_contain_text("at most 512")
    expect(page.locator("#pair-a")).to_be_hidden()
    expect(page).not_to_have_url(re.compile("compare="))
    _assert_clean(page)
