"""Downloads: the heatmap, the line view and the overview as PNG and SVG, and the numbers of
the view on show as JSON and CSV, all made in the browser."""

import csv
import io
import json
import struct
from xml.etree import ElementTree

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import run_text
from tests.conftest import DEMO_SENTENCE

pytestmark = pytest.mark.browser

SVG = "{http://www.w3.org/2000/svg}"
# At word level: quotes, commas and formula starters (= + - @) become words of their own.
AWKWARD = 'He said "hi", =SUM(A1) +1 @home -ok'


def _download(page: Page, bar: str, format: str) -> tuple[str, bytes]:
    with page.expect_download() as info:
        page.click(f'#{bar}-export button[data-format="{format}"]')
    download = info.value
    assert download.failure() is None
    return download.suggested_filename, download.path().read_bytes()


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _svg(data: bytes) -> ElementTree.Element:
    root = ElementTree.fromstring(data)
    assert root.tag == f"{SVG}svg"
    return root


def _spreadsheet_safe(token: str) -> str:
    return f"'{token}" if token[:1] in ("=", "+", "-", "@") else token


def _assert_clean(page: Page) -> None:
    watch = page.watch  # type: ignore[attr-defined]
    assert watch.hosts == {"127.0.0.1"}
    assert watch.errors == []


def test_heatmap_downloads_hold_the_picture_and_the_numbers_shown(page: Page) -> None:
    run_text(page, AWKWARD)
    page.check("#granularity-word")
    page.select_option("#layer", "2")
    page.select_option("#head", "4")
    page.wait_for_selector(
        '#heatmap[data-layer="2"][data-head="4"][data-options="word/keep/none/attention"] .main-svg'
    )
    expect(page.locator("#status")).not_to_have_class("status busy")
    z = page.evaluate("document.getElementById('heatmap').data[0].z")
    tokens = page.locator("#heatmap .xtick text").all_text_contents()
    assert {'"', '",', "=", "+", "@", "-"} <= set(tokens)
    base = "minilm_encoder-self_attn_layer2_head4_word"

    name, data = _download(page, "heatmap", "png")
    assert name == f"{base}_heatmap.png"
    width, height = _png_size(data)
    assert width > 800 and height > 600  # drawn at twice the on-screen size

    name, data = _download(page, "heatmap", "svg")
    assert name == f"{base}_heatmap.svg"
    texts = "".join(_svg(data).itertext())
    assert "minilm · Encoder self-attention · layer 2 · head 4 · Word level" in texts

    name, data = _download(page, "heatmap", "json")
    assert name == f"{base}.json"
    body = json.loads(data)
    assert body["matrix"] == z
    assert body["rows"] == {"name": "source", "tokens": tokens}
    assert body["cols"] == {"name": "source", "tokens": tokens}
    assert body["model"] == "minilm" and body["text"] == AWKWARD
    assert (body["block"], body["layer"], body["head"]) == ("encoder.2.self_attn", 2, 4)
    assert body["options"] == {
        "granularity": "word",
        "special_tokens": "keep",
        "aggregate": "none",
        "weighting": "attention",
    }

    name, data = _download(page, "heatmap", "csv")
    assert name == f"{base}.csv"
    text = data.decode("utf-8-sig")
    assert ',"""",' in text and ',""",",' in text  # the tokens " and ", quoted
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["source \\ source", *map(_spreadsheet_safe, tokens)]
    assert [row[0] for row in rows[1:]] == list(map(_spreadsheet_safe, tokens))
    assert [[float(v) for v in row[1:]] for row in rows[1:]] == z
    _assert_clean(page)


def test_line_view_and_overview_downloads(page: Page) -> None:
    run_text(page, DEMO_SENTENCE)
    tokens = page.locator("#heatmap .xtick text").all_text_contents()

    name, data = _download(page, "lines", "svg")
    assert name == "minilm_encoder-self_attn_layer0_mean_lines.svg"
    root = _svg(data)
    labels = [
        node.text for node in root.iter(f"{SVG}text") if "line-token" in node.get("class", "")
    ]
    assert labels == tokens + tokens  # keys, then queries
    assert len(list(root.iter(f"{SVG}line"))) == page.locator("#lines svg line").count() > 0
    assert "stroke" in "".join(node.text or "" for node in root.iter(f"{SVG}style"))

    name, data = _download(page, "lines", "png")
    assert name == "minilm_encoder-self_attn_layer0_mean_lines.png"
    assert _png_size(data)[0] == 2 * 520

    # The line view's numbers are the heatmap's.
    _, data = _download(page, "lines", "json")
    assert json.loads(data)["matrix"] == page.evaluate(
        "document.getElementById('heatmap').data[0].z"
    )

    name, data = _download(page, "overview", "png")
    assert name == "minilm_encoder-self_attn_overview.png"
    _png_size(data)

    _, data = _download(page, "overview", "svg")
    images = list(_svg(data).iter(f"{SVG}image"))
    assert len(images) == 6 * 13  # one per thumbnail, each its canvas as a PNG
    assert all(image.get("href", "").startswith("data:image/png;base64,") for image in images)

    _, data = _download(page, "overview", "json")
    body = json.loads(data)
    thumbnails = body["thumbnails"]
    assert len(thumbnails) == 6 * 13
    assert [t["head"] for t in thumbnails[:13]] == [*range(12), "mean"]
    assert body["rows"]["tokens"] == tokens and body["pooled_from"] is None
    for thumbnail in thumbnails:
        assert thumbnail["shape"] == [len(tokens), len(tokens)]
        # uint8 on the wire: each weight within 1/510, each row within 15/510 of 1
        assert all(abs(sum(row) - 1) < 0.04 for row in thumbnail["matrix"])
    _assert_clean(page)
