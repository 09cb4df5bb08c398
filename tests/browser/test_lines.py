"""The line view draws any block, as BertViz's head view does: MiniLM's self-attention here."""

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import run_text
from tests.conftest import DEMO_SENTENCE

pytestmark = pytest.mark.browser


def _words_without_specials(page: Page) -> None:
    page.check("#granularity-word")
    page.wait_for_selector('#lines[data-options="word/keep/none/attention"] svg')
    page.check("#hide-special")
    page.wait_for_selector('#lines[data-options="word/drop/none/attention"] svg')


def test_self_attention_draws_the_same_tokens_on_both_sides(page: Page) -> None:
    run_text(page, DEMO_SENTENCE)
    ticks = page.locator("#heatmap .xtick text").all_text_contents()
    svg = page.locator("#lines svg")
    expect(svg.locator(".line-token.key")).to_have_text(ticks)
    expect(svg.locator(".line-token.query")).to_have_text(ticks)
    expect(svg.locator(".lines-head")).to_have_text(["source (keys)", "source (queries)"])
    assert svg.locator("line").count() >= len(ticks)
    assert page.watch.errors == []  # type: ignore[attr-defined]


def test_hovering_a_token_leaves_only_its_lines_and_it_reads_the_animal(page: Page) -> None:
    run_text(page, DEMO_SENTENCE)
    _words_without_specials(page)
    page.click('#overview .thumb[data-layer="3"][data-head="1"]')
    page.wait_for_selector('#lines[data-layer="3"][data-head="1"] svg')
    svg = page.locator("#lines svg")
    words = svg.locator(".line-token.query").all_text_contents()
    assert words == DEMO_SENTENCE.split()
    it = str(words.index("it"))

    page.hover(f'#lines .line-token.query[data-index="{it}"]')
    expect(svg).to_have_class("lines-svg focused")
    on = svg.locator("line.on")
    its_lines = svg.locator(f'line[data-query="{it}"]')
    assert on.count() == its_lines.count() > 0
    assert {line.get_attribute("data-query") for line in on.all()} == {it}
    expect(on.first).to_be_visible()
    expect(svg.locator(f'line:not([data-query="{it}"])').first).to_be_hidden()
    # Layer 3, head 1 resolves "it": its strongest line ends on "animal".
    weights = {
        int(line.get_attribute("data-key") or -1): float(line.get_attribute("data-weight") or 0)
        for line in its_lines.all()
    }
    assert words[max(weights, key=weights.__getitem__)] == "animal"

    # A key token on the left shows who reads it.
    animal = str(words.index("animal"))
    page.hover(f'#lines .line-token.key[data-index="{animal}"]')
    assert {line.get_attribute("data-key") for line in svg.locator("line.on").all()} == {animal}
    page.mouse.move(5, 5)
    expect(svg).to_have_class("lines-svg")
    watch = page.watch  # type: ignore[attr-defined]
    assert watch.hosts == {"127.0.0.1"}
    assert watch.errors == []


def test_a_long_input_gets_a_note_instead_of_thousands_of_lines(page: Page) -> None:
    run_text(page, "word " * 200)
    expect(page.locator("#lines .lines-note")).to_contain_text("up to 150 tokens a side")
    expect(page.locator("#lines svg")).to_have_count(0)
    assert page.watch.errors == []  # type: ignore[attr-defined]
