import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

DEMO = "我爱吃苹果"


def _choose(page: Page, model: str) -> None:
    page.select_option("#model", model)
    expect(page.locator("#text")).to_have_value(DEMO)


def _run(page: Page) -> None:
    page.click("#run")
    page.wait_for_selector('#heatmap[data-block$=".cross_attn"] .main-svg')


@pytest.mark.parametrize("model", ["transformer-zh-en", "bahdanau-zh-en"])
def test_alignment_view_draws_for_the_demo_sentence(page: Page, model: str) -> None:
    _choose(page, model)
    _run(page)
    expect(page.locator("#output-text")).not_to_be_empty()
    expect(page.locator('#block-tabs .tab[aria-selected="true"]')).to_have_text(
        "Cross-attention (target → source)"
    )
    assert page.locator("#heatmap .xtick text").all_text_contents() == [*DEMO, "</s>"]
    svg = page.locator("#lines svg")
    expect(svg.locator(".line-token.key")).to_have_text([*DEMO, "</s>"])
    assert svg.locator("line").count() >= len(DEMO)
    assert page.watch.hosts == {"127.0.0.1"}  # type: ignore[attr-defined]
    assert page.watch.errors == []  # type: ignore[attr-defined]


def test_your_translation_is_forced_and_aligned(page: Page) -> None:
    _choose(page, "transformer-zh-en")
    page.fill("#target", "I love apples")
    _run(page)
    expect(page.locator("#output-label")).to_have_text("Teacher-forced on your text:")
    expect(page.locator("#lines svg .line-token.query")).to_have_text(
        ["I", "love", "apples", "</s>"]
    )
    # The strongest line from "I" ends on 我 in at least the mean over heads of some layer.
    page.select_option("#layer", "0")
    assert page.locator("#heatmap .ytick text").all_text_contents() == [
        "I",
        "love",
        "apples",
        "</s>",
    ]


def test_luong_scorers_compare_side_by_side(page: Page) -> None:
    _choose(page, "luong-zh-en")
    expect(page.locator("#variant")).to_be_visible()
    page.fill("#target", "I love apples")
    _run(page)
    expect(page.locator("#compare")).to_have_text("Compare dot, general, concat")
    page.click("#compare")
    cells = page.locator("#compare-grid .compare-cell")
    expect(cells).to_have_count(3)
    for variant in ("dot", "general", "concat"):
        cell = page.locator(f'#compare-grid .compare-cell[data-variant="{variant}"]')
        expect(cell.locator(".gtitle")).to_contain_text(f"{variant}: I love apples")
    assert page.watch.errors == []  # type: ignore[attr-defined]
