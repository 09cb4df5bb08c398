"""The generation timeline in Chromium: SmolLM2 writes into it token by token while the
page stays usable, the scrubber and the written tokens choose the step whose row is drawn,
and nothing reaches beyond this server (tests/browser/test_timeline_cancel.py: cancelling)."""

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import TEST_LIMITS

pytestmark = pytest.mark.browser

WRITES = TEST_LIMITS["max_new_tokens"]  # SmolLM2 writes no end token this early here
SLOW = 120_000  # ms: SmolLM2 on a busy 2-core machine


def _assert_clean(page: Page) -> None:
    watch = page.watch  # type: ignore[attr-defined]
    assert watch.hosts == {"127.0.0.1"}
    assert watch.errors == []


def _strip(page: Page, **shown: object) -> None:
    """Waits until the strip draws the step, layer, head and number of keys given."""
    selector = "".join(f'[data-{name}="{value}"]' for name, value in shown.items())
    page.wait_for_selector(f"#timeline-strip{selector} .main-svg")


def _generate(page: Page, text: str) -> None:
    page.select_option("#model", "smollm2")
    expect(page.locator("#generate")).to_be_visible()
    page.fill("#text", text)
    page.click("#generate")


@pytest.mark.timing
def test_tokens_appear_one_by_one_and_the_scrubber_moves_the_row(page: Page) -> None:
    page.select_option("#model", "smollm2")
    # The panel's state and written-token count, with the time, each time they change; and
    # every count the page set. One observer call can cover several changes (when a busy
    # browser reads several steps from the stream at once), so the counts come from each
    # change's old value, not from the panel when the observer runs.
    page.evaluate(
        """() => {
          window.timelineLog = [];
          window.writtenCounts = [];
          const panel = document.getElementById("timeline-panel");
          new MutationObserver((changes) => {
            for (const change of changes) {
              if (change.attributeName === "data-written" && change.oldValue !== null) {
                window.writtenCounts.push(Number(change.oldValue));
              }
            }
            const { written, state } = panel.dataset;
            window.timelineLog.push([Number(written), state, performance.now()]);
          }).observe(panel, {
            attributes: true,
            attributeOldValue: true,
            attributeFilter: ["data-written", "data-state"],
          });
        }"""
    )
    _generate(page, "The capital of France is")
    page.wait_for_selector('#timeline-panel[data-state="done"]', timeout=SLOW)
    log = page.evaluate("window.timelineLog")
    counts = [*page.evaluate("window.writtenCounts"), log[-1][0]]
    # The timeline filled token by token: every count from the first to the last, growing.
    assert counts == sorted(counts) and set(range(1, WRITES + 1)) <= set(counts), (counts, log)
    first = next(at for written, state, at in log if state == "streaming" and written >= 1)
    done = next(at for _, state, at in log if state == "done")
    print(f"first token shown {done - first:.0f} ms before done; counts: {sorted(set(counts))}")
    assert done - first > 50

    tokens = page.locator("#timeline-tokens .token")
    expect(tokens).to_have_count(5 + WRITES)
    expect(tokens.nth(5)).to_have_text("Paris")
    expect(page.locator("#timeline-status")).to_contain_text(f"Done: {WRITES} tokens written")
    # Following the model, the newest step is on show.
    _strip(page, step=WRITES - 1, keys=5 + WRITES - 1)

    page.locator("#timeline-step").fill("0")
    _strip(page, step=0, keys=5, layer=15, head="mean")
    expect(page.locator("#timeline-caption")).to_contain_text(
        "reading “is” (position 4) last, the model writes “Paris”"
    )
    # Every position is labelled, those written after this step in grey.
    ticks = page.locator("#timeline-strip .xtick text")
    expect(ticks).to_have_count(5 + WRITES)
    assert ticks.all_text_contents()[:6] == ["The", "capital", "of", "France", "is", "Paris"]
    assert ticks.nth(5).locator("tspan[style]").count() == 0
    expect(ticks.nth(6).locator("tspan[style]")).to_have_count(1)
    expect(tokens.nth(4)).to_have_class("token prompt reads")
    expect(tokens.nth(5)).to_have_class("token written writes")

    page.locator("#timeline-step").press("ArrowRight")
    _strip(page, step=1, keys=6)

    page.click('#timeline-tokens .token.written[data-step="3"]')
    _strip(page, step=3, keys=8)
    expect(page.locator("#timeline-step")).to_have_value("3")
    page.select_option("#timeline-layer", "23")
    page.select_option("#timeline-head", "4")
    _strip(page, step=3, keys=8, layer=23, head=4)
    expect(page.locator("#timeline-caption")).to_contain_text("layer 23, head 4")
    _assert_clean(page)
