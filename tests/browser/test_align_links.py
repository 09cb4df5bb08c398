"""The word alignment of a translation in the page: links marked on the heatmap and drawn
solid in the line view, equal to the server's /align links, and a pasted gold scored."""

from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import opened

pytestmark = pytest.mark.browser

DEMO = {"model": "transformer-zh-en", "text": "我爱吃苹果", "target": "I love apples"}


def _link(live_server: str, layer: int) -> str:
    view = {**DEMO, "tab": "decoder.cross_attn", "layer": str(layer)}
    return f"{live_server}/?{urlencode(view)}"


def _server_links(live_server: str, layer: int | None = None) -> list[list[int]]:
    """argmax over the head mean of `layer`, or with no layer the model's best setting (the
    API's default method, and the page's)."""
    body = {**DEMO} if layer is None else {**DEMO, "method": "argmax", "layer": layer}
    response = httpx.post(f"{live_server}/api/v1/align", json=body, timeout=30)
    assert response.status_code == 200, response.text
    links: list[list[int]] = response.json()["links"]
    return links


def _drawn(page: Page) -> dict[str, Any]:
    drawn: dict[str, Any] = page.evaluate(
        """() => ({
          marks: document.getElementById('heatmap').layout.shapes
            .filter((s) => s.name === 'alignment link')
            .map((s) => [Math.round(s.y0), Math.round(s.x0)]),
          lines: [...document.querySelectorAll('#lines .links line')]
            .map((l) => [Number(l.dataset.query), Number(l.dataset.key)]),
        })"""
    )
    return drawn


def test_the_alignment_of_i_love_apples_is_drawn_and_a_gold_is_scored(
    page: Page, live_server: str
) -> None:
    with opened(page, _link(live_server, 1)) as view:
        # At first the links of the model's best setting (recorded from its dev gold set)
        expect(view.locator("#align-links")).to_contain_text("dev gold set")
        best = _server_links(live_server)
        assert sorted(_drawn(view)["lines"]) == sorted(best)
        view.select_option("#align-method", "argmax")
        expect(view.locator("#align-links")).to_contain_text("argmax, layer 1")
        expected = _server_links(live_server, 1)
        # special tokens kept on the heatmap: </s> ends both lists, so indices agree
        drawn = _drawn(view)
        assert sorted(drawn["marks"]) == sorted(expected)
        assert sorted(drawn["lines"]) == sorted(expected)
        assert [0, 0] in expected and [1, 1] in expected  # I → 我, love → 爱
        assert expected[2][1] in (3, 4)  # apples → 苹 or 果

        view.fill("#align-gold", "0-0 1-1 2?1 3-2 4-2")
        view.click("#align-score")
        expect(view.locator("#align-scores")).to_contain_text("AER")
        predicted = {(s, t) for t, s in expected}
        sure, possible = {(0, 0), (1, 1), (3, 2), (4, 2)}, {(0, 0), (1, 1), (3, 2), (4, 2), (2, 1)}
        aer = 1 - (len(predicted & sure) + len(predicted & possible)) / (len(predicted) + 4)
        expect(view.locator("#align-scores")).to_contain_text(f"AER {aer:.3f}")

        view.fill("#align-gold", "0-0 9-9")
        view.click("#align-score")
        expect(view.locator("#align-scores")).to_contain_text("Gold not scored")
        expect(view.locator("#align-scores")).to_contain_text("out of range")
        expect(view.locator("#align-links")).to_contain_text("0-0 1-1")  # the links still show
        assert view.watch.errors == []  # type: ignore[attr-defined]


def test_alignment_follows_the_layer_and_hides_off_cross_attention(
    page: Page, live_server: str
) -> None:
    with opened(page, _link(live_server, 0)) as view:
        view.select_option("#align-method", "argmax")
        expect(view.locator("#align-links")).to_contain_text("argmax, layer 0")
        assert sorted(_drawn(view)["lines"]) == sorted(_server_links(live_server, 0))
        view.select_option("#layer", "2")
        expect(view.locator("#align-links")).to_contain_text("layer 2")
        assert sorted(_drawn(view)["lines"]) == sorted(_server_links(live_server, 2))
        view.locator("#block-tabs .tab", has_text="Encoder self-attention").click()
        expect(view.locator("#align-panel")).to_be_hidden()
        assert _drawn(view)["lines"] == []
