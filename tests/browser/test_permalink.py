"""Permalinks: the page's whole state lives in its URL. A link reopens the same view on
another server, Back and Forward move between runs, long texts travel compressed in the
fragment, and a link that cannot be shown says why."""

import random
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from playwright.sync_api import Page, expect

from app.main import create_app
from app.settings import Settings
from tests.browser.conftest import opened, run_text
from tests.conftest import DEMO_SENTENCE, NO_RATE_LIMIT, serving

pytestmark = pytest.mark.browser

# Long English prose with code in it: the API reference.
PROSE = Path(__file__).parents[2] / "docs" / "api.md"
LINK_LIMIT = 32_000  # static/js/permalink.js: longer links may be cut by browsers and apps


@pytest.fixture(scope="module")
def other_server() -> Iterator[str]:
    """A second server that has never seen the runs: nothing about a view is kept server-side."""
    with serving(create_app(Settings(enabled_models=["minilm"], **NO_RATE_LIMIT))) as url:
        yield url


def _view(page: Page, layer: str, head: str, options: str = "token/keep/none/attention") -> None:
    """Waits until the heatmap shows `layer` and `head` under `options` and the page is idle."""
    page.wait_for_selector(
        f'#heatmap[data-layer="{layer}"][data-head="{head}"][data-options="{options}"] .main-svg'
    )
    expect(page.locator("#status")).not_to_have_class("status busy")


def _z(page: Page) -> list[list[float]]:
    z: list[list[float]] = page.evaluate("document.getElementById('heatmap').data[0].z")
    return z


def _ticks(page: Page) -> list[str]:
    return page.locator("#heatmap .xtick text").all_text_contents()


def _assert_clean(page: Page) -> None:
    watch = page.watch  # type: ignore[attr-defined]
    assert watch.hosts == {"127.0.0.1"}
    assert watch.errors == []


def test_the_link_of_a_view_opens_the_same_view_on_another_server(
    page: Page, live_server: str, other_server: str
) -> None:
    run_text(page, DEMO_SENTENCE)
    page.check("#granularity-word")
    page.check("#hide-special")
    page.click('#overview .thumb[data-layer="3"][data-head="1"]')
    _view(page, "3", "1", "word/drop/none/attention")
    expect(page).to_have_url(re.compile(r"layer=3&head=1"))
    assert parse_qs(urlsplit(page.url).query) == {
        "model": ["minilm"],
        "tab": ["encoder.self_attn"],
        "layer": ["3"],
        "head": ["1"],
        "granularity": ["word"],
        "special_tokens": ["drop"],
        "text": [DEMO_SENTENCE],
    }
    z = _z(page)
    assert len(z) == len(DEMO_SENTENCE.split())

    with opened(page, page.url.replace(live_server, other_server)) as other:
        _view(other, "3", "1", "word/drop/none/attention")
        assert _z(other) == z
        expect(other.locator("#text")).to_have_value(DEMO_SENTENCE)
        expect(other.locator("#layer")).to_have_value("3")
        expect(other.locator("#head")).to_have_value("1")
        expect(other.locator("#granularity-word")).to_be_checked()
        expect(other.locator("#hide-special")).to_be_checked()
        expect(other.locator("#link-notice")).to_be_hidden()
        _assert_clean(other)
    _assert_clean(page)


def test_a_translators_tab_and_target_travel_in_the_link(page: Page) -> None:
    page.select_option("#model", "transformer-zh-en")
    page.fill("#target", "I love apples")
    run_text(page, "我爱吃苹果")
    page.click("#block-tabs .tab >> nth=1")  # decoder self-attention
    page.select_option("#layer", "2")
    page.select_option("#head", "3")
    _view(page, "2", "3")
    expect(page).to_have_url(re.compile(r"tab=decoder\.self_attn&layer=2&head=3"))
    z = _z(page)

    with opened(page, page.url) as other:
        _view(other, "2", "3")
        expect(other.locator("#model")).to_have_value("transformer-zh-en")
        expect(other.locator("#target")).to_have_value("I love apples")
        expect(other.locator("#block-tabs .tab[aria-selected=true]")).to_have_text(
            "Decoder self-attention (causal)"
        )
        assert _ticks(other) == _ticks(page)
        assert _z(other) == z
        _assert_clean(other)


def test_back_and_forward_move_between_runs(page: Page, live_server: str) -> None:
    run_text(page, "The cat sat on the mat")
    page.select_option("#layer", "2")  # a view change rewrites the run's own entry
    _view(page, "2", "mean")
    cat = _z(page)
    run_text(page, "A dog barked")  # a new run gets an entry of its own
    page.select_option("#head", "4")
    _view(page, "2", "4")
    expect(page).to_have_url(re.compile(r"head=4.*text=A\+dog\+barked"))
    dog = _z(page)

    page.go_back()
    expect(page).to_have_url(re.compile(r"text=The\+cat"))
    _view(page, "2", "mean")
    assert _ticks(page)[:4] == ["[CLS]", "the", "cat", "sat"]
    assert _z(page) == cat
    expect(page.locator("#text")).to_have_value("The cat sat on the mat")

    page.go_forward()
    _view(page, "2", "4")
    assert _ticks(page)[:3] == ["[CLS]", "a", "dog"]
    assert _z(page) == dog
    expect(page.locator("#text")).to_have_value("A dog barked")

    # Back past the first run: the page as it opened, with nothing run.
    page.go_back()
    page.go_back()
    expect(page).to_have_url(f"{live_server}/")
    expect(page.locator("#results")).to_be_hidden()
    expect(page.locator("#text")).to_have_value(DEMO_SENTENCE)
    _assert_clean(page)


def _link_for(page: Page, text: str) -> str:
    """The page's own link to a MiniLM run of `text` (static/js/permalink.js linkFor)."""
    link: str = page.evaluate(
        """async (text) => {
          const { emptyView, linkFor } = await import("/static/js/permalink.js");
          return location.origin + await linkFor({ ...emptyView(), model: "minilm", text });
        }""",
        text,
    )
    return link


def test_a_long_text_travels_compressed_in_the_fragment(page: Page) -> None:
    # 400 words, 402 tokens: inside MiniLM's 512, far past a readable query.
    words = ["the", "cat", "sat", "on", "a", "mat", "and", "dog", "ran", "home"]
    rng = random.Random(7)
    text = " ".join(rng.choice(words) for _ in range(400))
    run_text(page, text)
    expect(page).to_have_url(re.compile(r"#z=[A-Za-z0-9_-]+$"))
    assert "text" not in parse_qs(urlsplit(page.url).query)
    z = _z(page)
    with opened(page, page.url) as other:
        _view(other, "0", "mean")
        expect(other.locator("#text")).to_have_value(text)
        assert _z(other) == z
        _assert_clean(other)

    # 15,000 characters: the link carries all of it; the server then refuses it for MiniLM
    # with its own message, and the page stays whole.
    long_text = "word " * 3000
    link = _link_for(page, long_text)
    assert "#z=" in link and len(link) < 1_000
    with opened(page, link) as other:
        expect(other.locator("#error")).to_contain_text("at most 512")
        expect(other.locator("#text")).to_have_value(long_text)
        expect(other.locator("#results")).to_be_hidden()
        _assert_clean(other)

    # English prose at the server's limit (ATTN_MAX_CHARS, 20,000 characters) makes a link
    # well inside the 32,000 characters that every browser keeps.
    prose = " ".join(PROSE.read_text().split())[:20_000]
    assert len(_link_for(page, prose)) < LINK_LIMIT // 2
    _assert_clean(page)


def test_a_link_that_cannot_be_shown_says_why_and_falls_back(page: Page, live_server: str) -> None:
    page.goto(f"{live_server}/?{urlencode({'model': 'nope', 'text': 'hello'})}")
    page.wait_for_selector("body[data-ready=true]")
    expect(page.locator("#link-notice")).to_contain_text("This server has no model “nope”")
    expect(page.locator("#model")).to_have_value("minilm")
    expect(page.locator("#text")).to_have_value(DEMO_SENTENCE)
    expect(page.locator("#results")).to_be_hidden()

    bad_view = {"model": "minilm", "layer": "9", "head": "30", "granularity": "x", "text": "hi"}
    page.goto(f"{live_server}/?{urlencode(bad_view)}")
    _view(page, "0", "mean")
    notice = page.locator("#link-notice")
    expect(notice).to_contain_text("granularity “x” is not one of token, word; using token.")
    expect(notice).to_contain_text(
        "Encoder self-attention has no layer 9 (layers 0–5); showing layer 0."
    )
    expect(notice).to_contain_text("Layer 0 has no head 30 (heads 0–11)")

    page.goto(f"{live_server}/?model=minilm&tab=decoder.cross_attn&text=hi")
    _view(page, "0", "mean")
    expect(page.locator("#link-notice")).to_contain_text(
        "This run has no tab “decoder.cross_attn” (it has encoder.self_attn)"
    )

    page.goto(f"{live_server}/?model=smollm2#z=not-what-the-page-wrote")
    page.wait_for_selector("body[data-ready=true]")
    expect(page.locator("#link-notice")).to_contain_text("could not be read")
    expect(page.locator("#model")).to_have_value("smollm2")
    expect(page.locator("#results")).to_be_hidden()

    # A run of the user's own clears the notice.
    page.select_option("#model", "minilm")
    run_text(page, "the cat sat")
    expect(page.locator("#link-notice")).to_be_hidden()
    _assert_clean(page)


def test_copy_link_uses_the_clipboard_or_selects_the_link_in_a_field(page: Page) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    run_text(page, "the cat sat")
    expect(page).to_have_url(re.compile("text=the"))
    page.click("#copy-link")
    expect(page.locator("#link-status")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == page.url
    expect(page.locator("#link-field")).to_be_hidden()

    # Where there is no clipboard (a page served over plain http from another host), the
    # link is shown selected, to copy by hand.
    page.evaluate(
        "Object.defineProperty(Navigator.prototype, 'clipboard', { get: () => undefined })"
    )
    page.select_option("#layer", "1")
    expect(page).to_have_url(re.compile("layer=1"))
    expect(page.locator("#link-status")).to_have_text("")
    page.click("#copy-link")
    field = page.locator("#link-field")
    expect(field).to_be_visible()
    expect(field).to_have_value(page.url)
    assert page.evaluate(
        "(() => { const f = document.getElementById('link-field');"
        " return f.selectionStart === 0 && f.selectionEnd === f.value.length; })()"
    )
    expect(page.locator("#link-status")).to_contain_text("Ctrl+C")
    _assert_clean(page)
