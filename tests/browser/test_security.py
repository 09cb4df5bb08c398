from urllib.parse import urlencode

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

HOSTILE = "<img src=x onerror=alert(1)> <script>alert(2)</script> <b>bold</b>"


def _injected(page: Page) -> int:
    count: int = page.evaluate(
        "document.querySelectorAll('[onerror], #heatmap b, #results script, img[src=\"x\"]').length"
    )
    return count


def test_hostile_token_text_is_shown_as_text_and_runs_no_script(page: Page) -> None:
    page.fill("#text", HOSTILE)
    page.click("#run")
    page.wait_for_selector("#heatmap .main-svg")
    ticks = page.locator("#heatmap .xtick text").all_text_contents()
    # MiniLM splits "img" into "im" + "##g"; the characters arrive as text all the same.
    assert {"<", ">", "=", "x", "script", "alert", "b", "bold"} <= set(ticks)
    page.select_option("#head", "0")
    expect(page.locator('#query-chips .chip[data-query="1"]')).to_have_text("<")
    assert _injected(page) == 0
    watch = page.watch  # type: ignore[attr-defined]
    assert watch.errors == []  # a dialog (alert) would be recorded here


def test_hostile_target_and_output_stay_text(page: Page) -> None:
    page.select_option("#model", "tiny-bart")
    page.fill("#target", HOSTILE)
    page.fill("#text", HOSTILE)
    page.click("#run")
    page.wait_for_selector("#heatmap .main-svg")
    # The tiny model's vocabulary reads all of it as [UNK]; what matters is that nothing ran.
    assert page.locator("#heatmap .ytick text").count() > 3
    assert _injected(page) == 0
    assert page.watch.errors == []  # type: ignore[attr-defined]


def test_the_page_is_served_with_a_self_only_policy(page: Page, live_server: str) -> None:
    response = page.goto(live_server)
    assert response is not None
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy
    assert (
        "unsafe-eval" not in policy
        and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    )


def test_hostile_text_from_a_link_and_its_comparison_run_no_script(
    page: Page, live_server: str
) -> None:
    view = {"model": "minilm", "text": HOSTILE, "compare": HOSTILE.replace("bold", "bald")}
    page.goto(f"{live_server}/?{urlencode(view)}")
    page.wait_for_selector("#pair-diff .main-svg")
    expect(page.locator("#pair-a-text")).to_have_text(HOSTILE)
    labels = page.locator("#pair-diff .xtick text").all_text_contents()
    assert "<" in labels and "bold / bald" in labels
    injected: int = page.evaluate(
        "document.querySelectorAll('#pair-panel b, #pair-panel script, #pair-panel img').length"
    )
    assert injected == 0 and _injected(page) == 0

    page.goto(f"{live_server}/?{urlencode({'model': HOSTILE})}")
    page.wait_for_selector("body[data-ready=true]")
    expect(page.locator("#link-notice")).to_contain_text(f"no model “{HOSTILE}”")
    assert _injected(page) == 0
    assert page.watch.errors == []  # type: ignore[attr-defined]
