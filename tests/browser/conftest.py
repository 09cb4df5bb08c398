"""Debian's Chromium driven by Playwright, against the live server in tests/conftest.py.

Never `playwright install`: it downloads a browser, which fails with no network.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
VIEWPORT = {"width": 1300, "height": 1000}

pytestmark = pytest.mark.browser


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: apt-get install -y chromium (.ci/run does)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class PageWatch:
    """Every host the page asked for something and every script error it raised. Blob and data
    URLs (the downloads the page makes itself) reach no host and are not counted."""

    def __init__(self, page: Page) -> None:
        self.hosts: set[str] = set()
        self.errors: list[str] = []
        # Errors the browser logged: a script the page's policy refused to run, say.
        self.console_errors: list[str] = []
        page.on("request", lambda request: self._asked(request.url))
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("dialog", lambda dialog: self.errors.append(f"dialog: {dialog.message}"))
        page.on("console", self._on_console)

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console_errors.append(message.text)

    def _asked(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("blob", "data"):
            self.hosts.add(parts.hostname or "")


@pytest.fixture
def page(browser: Browser, live_server: str) -> Iterator[Page]:
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.watch = PageWatch(page)  # type: ignore[attr-defined]
    page.goto(live_server)
    page.wait_for_selector("body[data-ready=true]")
    yield page
    context.close()


@contextmanager
def opened(page: Page, url: str) -> Iterator[Page]:
    """`url` in a watched page of a browser context of its own: it shares nothing with `page`
    (no storage, no history), as a link opened by someone else."""
    browser = page.context.browser
    assert browser is not None
    context = browser.new_context(viewport=VIEWPORT)
    try:
        other = context.new_page()
        other.watch = PageWatch(other)  # type: ignore[attr-defined]
        other.goto(url)
        yield other
    finally:
        context.close()


def run_text(page: Page, text: str | None = None) -> None:
    """Type `text` (if given), press Run and wait until the heatmap is drawn and the page idle."""
    if text is not None:
        page.fill("#text", text)
    page.click("#run")
    page.wait_for_selector("#heatmap .main-svg")
    expect(page.locator("#status")).not_to_have_class("status busy")


def save_report(server: str, folder: Path, params: dict[str, str]) -> Path:
    """GET /api/v1/report from `server` for `params`, saved as a file in `folder`."""
    response = httpx.get(f"{server}/api/v1/report", params=params, timeout=120)
    response.raise_for_status()
    path = folder / "report.html"
    path.write_bytes(response.content)
    return path


@pytest.fixture
def offline_page(browser: Browser) -> Iterator[Page]:
    """A page that may read file:// URLs only: any other request is recorded and refused."""
    context = browser.new_context(viewport={"width": 1300, "height": 1000})
    context.route(
        "**/*",
        lambda route: route.continue_() if route.request.url.startswith("file:") else route.abort(),
    )
    page = context.new_page()
    page.watch = PageWatch(page)  # type: ignore[attr-defined]
    yield page
    context.close()


def open_report(page: Page, path: Path) -> None:
    """Open a saved report and wait until it has drawn its heatmap."""
    page.goto(path.as_uri())
    page.wait_for_selector("body[data-ready=true]")
    page.wait_for_selector("#heatmap .main-svg")
