"""The standalone report, saved to disk and opened from file:// with every network request
refused: it draws, its pickers redraw it, and token text stays text."""

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect

from app.api.deps import get_app_settings
from app.settings import Settings
from tests.browser.conftest import open_report, run_text, save_report
from tests.conftest import DEMO_SENTENCE

pytestmark = pytest.mark.browser

DEMO = "我爱吃苹果"
HOSTILE = (
    "<img src=x onerror=alert(1)> </script><script>window.pwned = true; alert(2)</script> "
    "<b>bold</b>"
)


def _z(page: Page) -> list[list[float]]:
    z: list[list[float]] = page.evaluate("document.getElementById('heatmap').data[0].z")
    return z


def _offline_and_clean(page: Page) -> None:
    watch: Any = page.watch  # type: ignore[attr-defined]
    assert watch.hosts == {""}, watch.hosts  # file:// only: no host was ever asked
    assert watch.errors == []
    assert watch.console_errors == []


def test_the_report_draws_offline_and_its_pickers_redraw_it(
    offline_page: Page, live_server: str, tmp_path: Path
) -> None:
    page = offline_page
    report = save_report(live_server, tmp_path, {"model": "minilm", "text": DEMO_SENTENCE})
    open_report(page, report)
    expect(page.locator("#block-tabs .tab")).to_have_text(["Encoder self-attention"])
    expect(page.locator("#heatmap")).to_have_attribute("data-block", "encoder.0.self_attn")
    mean = _z(page)
    assert len(mean) == 15 and all(abs(sum(row) - 1) < 0.01 for row in mean)
    ticks = page.locator("#heatmap .xtick text").all_text_contents()
    assert ticks[:3] == ["[CLS]", "the", "animal"]
    assert page.locator("#report-tokens .token").count() == 15

    page.select_option("#layer", "3")
    expect(page.locator("#heatmap")).to_have_attribute("data-block", "encoder.3.self_attn")
    layer_mean = _z(page)
    assert layer_mean != mean
    page.select_option("#head", "5")
    expect(page.locator("#heatmap")).to_have_attribute("data-head", "5")
    head = _z(page)
    assert head != layer_mean and all(abs(sum(row) - 1) < 0.01 for row in head)
    expect(page.locator("#view-caption")).to_contain_text("layer 3, head 5")
    assert page.locator("#lines svg line").count() > 15
    _offline_and_clean(page)


def test_the_alignment_of_a_translator_draws(
    offline_page: Page, live_server: str, tmp_path: Path
) -> None:
    page = offline_page
    params = {"model": "transformer-zh-en", "text": DEMO, "target": "I love apples"}
    open_report(page, save_report(live_server, tmp_path, params))
    expect(page.locator('#block-tabs .tab[aria-selected="true"]')).to_have_text(
        "Cross-attention (target → source)"
    )
    lines = page.locator("#lines svg")
    expect(lines.locator(".line-token.key")).to_have_text([*DEMO, "</s>"])
    expect(lines.locator(".line-token.query")).to_have_text(["I", "love", "apples", "</s>"])
    assert lines.locator("line").count() >= len(DEMO)
    assert page.locator("#heatmap .xtick text").all_text_contents() == [*DEMO, "</s>"]

    page.locator("#block-tabs .tab", has_text="Encoder self-attention").click()
    expect(page.locator("#heatmap")).to_have_attribute("data-block", "encoder.0.self_attn")
    expect(page.locator("#layer option")).to_have_text(["0", "1", "2"])
    _offline_and_clean(page)


@pytest.mark.parametrize(
    "params",
    [
        {"model": "minilm", "text": HOSTILE},
        {"model": "tiny-bart", "text": HOSTILE, "target": HOSTILE},
    ],
)
def test_hostile_text_runs_no_script_in_the_report(
    offline_page: Page, live_server: str, tmp_path: Path, params: dict[str, str]
) -> None:
    page = offline_page
    open_report(page, save_report(live_server, tmp_path, params))
    assert page.evaluate("window.pwned") is None
    assert page.evaluate("document.querySelectorAll('img, [onerror], main b').length") == 0
    expect(page.locator("#report-text")).to_have_text(HOSTILE)
    if params["model"] == "minilm":
        ticks = set(page.locator("#heatmap .xtick text").all_text_contents())
        assert {"<", ">", "script", "/", "b"} <= ticks
    # Nothing ran, and nothing even tried: the policy would have logged a refused script.
    _offline_and_clean(page)


def test_a_pooled_report_labels_its_groups(
    offline_page: Page, client: TestClient, tmp_path: Path
) -> None:
    app: Any = client.app
    settings: Settings = app.state.settings
    narrowed = settings.model_copy(update={"report_max_weights": 1000})
    app.dependency_overrides[get_app_settings] = lambda: narrowed
    try:
        text = " ".join(["the quick brown fox jumps over the lazy dog"] * 5)  # 47 tokens
        response = client.get(
            "/api/v1/report", params={"model": "minilm", "text": text, "layers": 1, "heads": 2}
        )
    finally:
        app.dependency_overrides.pop(get_app_settings)
    assert response.status_code == 200, response.text
    report = tmp_path / "pooled.html"
    report.write_bytes(response.content)
    page = offline_page
    open_report(page, report)
    expect(page.locator("#report-pooled")).to_contain_text("pooled to at most 31 × 31")
    assert len(_z(page)) == 24  # 47 tokens in groups of 2
    first = page.locator("#heatmap .ytick text").first.text_content()
    assert first == "0–1"
    expect(page.locator("#lines")).to_contain_text("pooled")
    _offline_and_clean(page)


def test_the_page_links_the_report_of_what_it_shows(
    page: Page, offline_page: Page, tmp_path: Path
) -> None:
    page.select_option("#model", "transformer-zh-en")
    page.fill("#target", "I love apples")
    run_text(page)
    page.check("#granularity-word")
    expect(page.locator("#status")).not_to_have_class("status busy")
    link = page.locator("#report-link")
    expect(link).to_be_visible()
    href = link.get_attribute("href") or ""
    assert re.fullmatch(
        r"/api/v1/report\?model=transformer-zh-en&text=[^&]+&target=I\+love\+apples"
        r"&granularity=word",
        href,
    ), href
    with page.expect_download() as download:
        link.click()
    assert download.value.suggested_filename.startswith("attention-report-transformer-zh-en-")
    saved = tmp_path / "downloaded.html"
    download.value.save_as(saved)

    open_report(offline_page, saved)
    expect(offline_page.locator("#options-caption")).to_have_text("Word level")
    assert offline_page.locator("#heatmap .xtick text").all_text_contents() == [
        "我",
        "爱",
        "吃",
        "苹果",
        "</s>",
    ]
    _offline_and_clean(offline_page)
