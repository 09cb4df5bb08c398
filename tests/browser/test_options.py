"""The analysis options in the page: each control re-fetches the run and every view redraws."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import run_text
from tests.conftest import DEMO_SENTENCE

pytestmark = pytest.mark.browser

APPLES = "我爱吃苹果"


def _applied(page: Page, options: str) -> None:
    """Waits until the heatmap and the line view are drawn under `options`
    (granularity/special_tokens/aggregate/weighting)."""
    page.wait_for_selector(f'#heatmap[data-options="{options}"] .main-svg')
    page.wait_for_selector(f'#lines[data-options="{options}"] > *')
    expect(page.locator("#status")).not_to_have_class("status busy")


def _ticks(page: Page, axis: str) -> list[str]:
    return page.locator(f"#heatmap .{axis}tick text").all_text_contents()


def _assert_clean(page: Page) -> None:
    watch = page.watch  # type: ignore[attr-defined]
    assert watch.hosts == {"127.0.0.1"}
    assert watch.errors == []


def test_word_level_makes_didnt_one_row_and_one_column(page: Page) -> None:
    run_text(page)
    assert "didn" in _ticks(page, "x")
    expect(page.locator("#options-caption")).to_have_text("Raw attention: tokens, each head")

    page.check("#granularity-word")
    _applied(page, "word/keep/none/attention")
    for axis in ("x", "y"):
        ticks = _ticks(page, axis)
        assert ticks.count("didn't") == 1 and "didn" not in ticks
        assert ticks[0] == "[CLS]" and ticks[-1] == "[SEP]"
    expect(page.locator("#options-caption")).to_have_text("Word level")
    expect(page.locator("#lines .line-token.query").nth(3)).to_have_text("didn't")
    # 6 layers x (12 heads + the mean), redrawn from the word-level response
    expect(page.locator("#overview .thumb")).to_have_count(6 * 13)
    _assert_clean(page)


def test_hiding_special_tokens_drops_their_rows_and_columns(page: Page) -> None:
    run_text(page)
    page.check("#hide-special")
    _applied(page, "token/drop/none/attention")
    for axis in ("x", "y"):
        ticks = _ticks(page, axis)
        assert "[CLS]" not in ticks and "[SEP]" not in ticks
        assert ticks[:2] == ["the", "animal"]
    expect(page.locator("#lines .line-token.key").first).to_have_text("the")
    expect(page.locator("#options-caption")).to_have_text("Special tokens hidden")

    page.uncheck("#hide-special")
    _applied(page, "token/keep/none/attention")
    assert _ticks(page, "x")[0] == "[CLS]"
    _assert_clean(page)


def test_rollout_draws_one_matrix_per_layer(page: Page) -> None:
    run_text(page)
    page.select_option("#layer", "2")
    page.check("#aggregate-rollout")
    _applied(page, "token/keep/rollout/attention")
    expect(page.locator("#options-caption")).to_have_text("Rollout across layers")
    expect(page.locator("#view-caption")).to_contain_text(
        "Encoder self-attention, layer 2, rollout through layers 0–2"
    )
    expect(page.locator("#head")).to_be_disabled()
    expect(page.locator("#overview .thumb")).to_have_count(6)  # one per layer, no heads
    assert page.locator("#heatmap .heatmaplayer image, #heatmap .heatmaplayer path").count() > 0
    expect(page.locator("#steps-intro")).to_contain_text("choose a self-attention tab and the raw")

    page.check("#aggregate-heads")
    _applied(page, "token/keep/heads/attention")
    expect(page.locator("#view-caption")).to_contain_text("layer 2, mean over heads")
    expect(page.locator("#overview .thumb")).to_have_count(6)

    page.check("#aggregate-none")
    _applied(page, "token/keep/none/attention")
    expect(page.locator("#head")).to_be_enabled()
    expect(page.locator("#overview .thumb")).to_have_count(6 * 13)
    _assert_clean(page)


def test_value_weighting_draws_and_shows_the_row_total(page: Page) -> None:
    page.fill("#text", "the cat sat")
    run_text(page)
    page.check("#weighting-value_norm")
    _applied(page, "token/keep/none/value_norm")
    expect(page.locator("#options-caption")).to_have_text("Value-weighted ‖α·f(x)‖")
    expect(page.locator("#view-caption")).to_contain_text("α·‖f(x)‖ for every key")
    box = page.locator("#heatmap .nsewdrag").first.bounding_box()
    assert box is not None
    # Five tokens ([CLS] the cat sat [SEP]): the cell of query "cat" and key "the".
    page.mouse.move(box["x"] + box["width"] * 1.5 / 5, box["y"] + box["height"] * 2.5 / 5)
    hover = page.locator("#heatmap .hovertext")
    expect(hover).to_contain_text("cat (2) → the (1)")
    expect(hover).to_contain_text("row total Σα‖f(x)‖")
    _assert_clean(page)


def test_all_options_at_once_draw_and_say_so(page: Page) -> None:
    run_text(page)
    for control in ("#granularity-word", "#hide-special", "#aggregate-rollout"):
        page.check(control)
    page.check("#weighting-value_norm")
    _applied(page, "word/drop/rollout/value_norm")
    expect(page.locator("#options-caption")).to_have_text(
        "Word level · special tokens hidden · rollout across layers · value-weighted ‖α·f(x)‖"
    )
    assert _ticks(page, "x") == DEMO_SENTENCE.split()
    expect(page.locator("#lines .line-token.key")).to_have_count(len(DEMO_SENTENCE.split()))
    _assert_clean(page)


def test_the_transformer_at_word_level_reads_apples_from_the_word(page: Page) -> None:
    page.select_option("#model", "transformer-zh-en")
    page.fill("#target", "I love apples")
    run_text(page)
    page.check("#granularity-word")
    _applied(page, "word/keep/none/attention")
    assert _ticks(page, "x") == ["我", "爱", "吃", "苹果", "</s>"]
    svg = page.locator("#lines svg")
    keys = svg.locator(".line-token.key").all_text_contents()
    queries = svg.locator(".line-token.query").all_text_contents()
    assert queries == ["I", "love", "apples", "</s>"]
    apples = queries.index("apples")
    # In every decoder layer, the mean over heads of cross-attention: "apples" reads 苹果 most.
    for layer in ("0", "1", "2"):
        page.select_option("#layer", layer)
        page.wait_for_selector(f'#lines[data-layer="{layer}"][data-head="mean"] svg')
        lines = svg.locator(f'g.lines line[data-query="{apples}"]').all()
        weights = {
            int(line.get_attribute("data-key") or -1): float(line.get_attribute("data-weight") or 0)
            for line in lines
        }
        strongest = max(weights, key=weights.__getitem__)
        assert keys[strongest] == "苹果", (layer, weights)
        assert weights[strongest] > 0.45

    page.check("#hide-special")
    _applied(page, "word/drop/none/attention")
    assert _ticks(page, "x") == ["我", "爱", "吃", "苹果"]
    _assert_clean(page)


def test_options_a_model_does_not_offer_are_disabled_and_say_why(page: Page) -> None:
    run_text(page)
    for control in ("#aggregate-rollout", "#weighting-value_norm"):
        expect(page.locator(control)).to_be_enabled()
    page.check("#aggregate-rollout")
    _applied(page, "token/keep/rollout/attention")

    # The Transformer translator has no rollout: the choice is disabled and put back.
    page.select_option("#model", "transformer-zh-en")
    rollout = page.locator("#aggregate-rollout")
    expect(rollout).to_be_disabled()
    expect(rollout).not_to_be_checked()
    expect(page.locator("#aggregate-none")).to_be_checked()
    expect(page.locator("label:has(#aggregate-rollout)")).to_have_attribute(
        "title", re.compile("rollout composes one stack's self-attention; not defined for encoder-")
    )
    expect(page.locator("#weighting-value_norm")).to_be_enabled()

    page.select_option("#model", "bahdanau-zh-en")
    value_norm = page.locator("#weighting-value_norm")
    expect(value_norm).to_be_disabled()
    expect(page.locator("label:has(#weighting-value_norm)")).to_have_attribute(
        "title", re.compile("this model's value vectors are not available")
    )
    run_text(page)
    expect(page.locator("#aggregate-heads")).to_be_enabled()
    _assert_clean(page)


def test_compare_variants_draws_the_shown_block_with_the_options(page: Page) -> None:
    page.select_option("#model", "luong-zh-en")
    page.fill("#target", "I love apples")
    run_text(page)
    page.check("#granularity-word")
    page.check("#hide-special")
    _applied(page, "word/drop/none/attention")
    page.click("#compare")
    for variant in ("dot", "general", "concat"):
        cell = page.locator(f'#compare-grid .compare-cell[data-variant="{variant}"]')
        expect(cell.locator(".gtitle")).to_contain_text(f"{variant}: I love apples")
        assert cell.locator(".xtick text").all_text_contents() == [*APPLES[:3], "苹果"]
    _assert_clean(page)


def test_rollout_of_a_decoder_only_model_reads_its_labels_from_the_response(page: Page) -> None:
    page.select_option("#model", "tiny-gpt2")
    page.fill("#text", "the cat sat")
    page.fill("#target", "on the mat")
    run_text(page)
    page.check("#aggregate-rollout")
    _applied(page, "token/keep/rollout/attention")
    expect(page.locator("#block-tabs .tab")).to_have_text(["Decoder self-attention (causal)"])
    expect(page.locator("#overview .thumb")).to_have_count(3)  # 3 layers, one rollout each
    expect(page.locator("#lines .lines-head")).to_have_text(
        ["target input (keys)", "target (queries)"]
    )
    assert _ticks(page, "y")[:3] == ["the", "cat", "sat"]
    _assert_clean(page)
