import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import run_text
from tests.conftest import DEMO_SENTENCE

pytestmark = pytest.mark.browser


def _tick_labels(page: Page, axis: str) -> list[str]:
    return page.locator(f"#heatmap .{axis}tick text").all_text_contents()


def test_typed_sentence_draws_heatmap_and_overview_without_leaving_localhost(page: Page) -> None:
    expect(page.locator("#model")).to_have_value("minilm")
    expect(page.locator("#text")).to_have_value(DEMO_SENTENCE)

    run_text(page, "The cat sat on the mat because it was tired")

    labels = _tick_labels(page, "x")
    assert labels[:4] == ["[CLS]", "the", "cat", "sat"]
    assert labels.count("the") == 2  # numeric axes keep repeated tokens apart
    assert _tick_labels(page, "y") == labels
    # 6 layers x (12 heads + the mean)
    expect(page.locator("#overview .thumb")).to_have_count(6 * 13)
    expect(page.locator("#view-caption")).to_contain_text("layer 0, mean over heads")

    page.click('#overview .thumb[data-layer="3"][data-head="5"]')
    page.wait_for_selector('#heatmap[data-layer="3"][data-head="5"]')
    expect(page.locator("#layer")).to_have_value("3")
    expect(page.locator("#head")).to_have_value("5")
    expect(page.locator("#view-caption")).to_contain_text("layer 3, head 5")
    expect(page.locator('#overview .thumb.selected[data-layer="3"][data-head="5"]')).to_have_count(
        1
    )

    page.select_option("#head", "mean")
    expect(page.locator("#view-caption")).to_contain_text("layer 3, mean over heads")

    watch = page.watch  # type: ignore[attr-defined]
    assert watch.hosts == {"127.0.0.1"}
    assert watch.errors == []


def test_heatmap_hover_names_both_tokens_and_the_weight(page: Page) -> None:
    run_text(page, "the cat sat")
    box = page.locator("#heatmap .nsewdrag").first.bounding_box()
    assert box is not None
    # Five tokens ([CLS] the cat sat [SEP]): hover the cell of query "cat" and key "the".
    page.mouse.move(box["x"] + box["width"] * 1.5 / 5, box["y"] + box["height"] * 2.5 / 5)
    hover = page.locator("#heatmap .hovertext")
    expect(hover).to_contain_text("cat (2) → the (1)")
    expect(hover).to_contain_text("weight 0.")


def test_server_errors_are_shown_in_the_page(page: Page) -> None:
    page.fill("#text", "word " * 4001)
    page.click("#run")
    expect(page.locator("#error")).to_contain_text("accepts at most 20000")
    expect(page.locator("#run")).to_be_enabled()


def test_a_run_superseded_by_another_shows_no_error(page: Page) -> None:
    # Ctrl+Enter while a long run (500 tokens) is still going cancels it and starts the new
    # one; that cancellation is not a failure to report.
    page.fill("#text", "word " * 500)
    page.click("#run")
    page.fill("#text", "The second sentence wins")
    page.press("#text", "Control+Enter")
    page.wait_for_selector("#heatmap .main-svg")
    expect(page.locator("#status")).not_to_have_class("status busy")
    expect(page.locator("#heatmap .xtick text").nth(2)).to_have_text("second")
    expect(page.locator("#error")).to_be_empty()


def test_encoder_decoder_model_offers_each_attention_kind(page: Page) -> None:
    page.select_option("#model", "tiny-bart")
    expect(page.locator("#target-row")).to_be_visible()
    page.fill("#target", "i love apples")
    run_text(page, "the cat sat on the mat")
    tabs = page.locator("#block-tabs .tab")
    expect(tabs).to_have_text(
        [
            "Encoder self-attention",
            "Decoder self-attention (causal)",
            "Cross-attention (target → source)",
        ]
    )
    expect(tabs.nth(2)).to_have_attribute("aria-selected", "true")
    assert _tick_labels(page, "y") == ["[CLS]", "i", "love", "apples", "[SEP]"]
    tabs.nth(1).click()
    page.wait_for_selector('#heatmap[data-block="decoder.0.self_attn"]')
    assert _tick_labels(page, "x") == ["[SEP]", "[CLS]", "i", "love", "apples"]
    expect(page.locator("#overview .thumb")).to_have_count(3 * 5)


def test_step_by_step_opens_a_query_and_highlights_its_row(page: Page) -> None:
    run_text(page, DEMO_SENTENCE)
    expect(page.locator("#steps-intro")).to_contain_text("Choose one head")
    page.click('#overview .thumb[data-layer="3"][data-head="5"]')
    page.click('#query-chips .chip[data-query="10"]')  # "it"
    expect(page.locator("#steps .steps-summary")).to_contain_text("Query “it” (position 10)")
    expect(page.locator("#steps .steps-summary")).to_contain_text("layer 3, head 5: d_k = 32")
    rows = page.locator("#steps .steps-table tbody tr")
    expect(rows).to_have_count(15)
    expect(page.locator("#steps .steps-table tr.is-query td.token")).to_have_text("it (10)")
    expect(page.locator("#steps .steps-table tfoot")).to_contain_text("1.0000")
    expect(page.locator("#steps .vector-plot .main-svg").first).to_be_visible()
    # The highlighted row in the heatmap is a Plotly shape around query 10.
    expect(page.locator("#heatmap .shapelayer path")).to_have_count(1)
    assert page.watch.errors == []  # type: ignore[attr-defined]
