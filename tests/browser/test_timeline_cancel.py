"""A generation timeline being written stops when the user starts a run or picks another
model. Its own server writes up to 32 tokens, so there is time to interrupt it."""

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from app.main import create_app
from app.settings import Settings
from tests.conftest import NO_RATE_LIMIT, serving

pytestmark = pytest.mark.browser

SLOW = 120_000  # ms: SmolLM2 on a busy 2-core machine


@pytest.fixture(scope="module")
def live_server() -> Iterator[str]:
    """Replaces the session's server (8 tokens) for this module's pages."""
    settings = Settings(enabled_models=["minilm", "smollm2"], max_new_tokens=32, **NO_RATE_LIMIT)
    with serving(create_app(settings)) as url:
        yield url


def _writing(page: Page) -> None:
    """Waits until the model has written a token and is still writing."""
    page.wait_for_function(
        """() => {
          const panel = document.getElementById("timeline-panel");
          return panel.dataset.state === "streaming" && Number(panel.dataset.written) >= 1;
        }""",
        timeout=SLOW,
    )


def test_a_new_run_or_another_model_stops_the_stream(page: Page) -> None:
    page.select_option("#model", "smollm2")
    # SmolLM2 rambles on from this text without writing its end token.
    page.fill("#text", "orbit velvet quarry nimbus tundra glimmer")
    page.fill("#target", "and so on")  # Run then forces this text through: one pass
    page.click("#generate")
    _writing(page)
    page.click("#run")
    expect(page.locator("#timeline-panel")).to_have_attribute("data-state", "stopped")
    expect(page.locator("#timeline-status")).to_contain_text("Stopped after")
    written = int(page.locator("#timeline-panel").get_attribute("data-written") or 0)
    assert 1 <= written < 32
    page.wait_for_selector("#heatmap .main-svg", timeout=SLOW)
    expect(page.locator("#timeline-error")).to_be_hidden()

    page.click("#generate")
    _writing(page)
    page.click("#timeline-stop")
    expect(page.locator("#timeline-panel")).to_have_attribute("data-state", "stopped")

    page.click("#generate")
    _writing(page)
    page.select_option("#model", "minilm")
    expect(page.locator("#timeline-panel")).to_be_hidden()
    expect(page.locator("#generate")).to_be_hidden()
    expect(page.locator("#error")).to_be_hidden()
    watch = page.watch  # type: ignore[attr-defined]
    assert watch.hosts == {"127.0.0.1"}
    assert watch.errors == []
