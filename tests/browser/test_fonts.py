"""Chinese is drawn with a font that has its glyphs, on the page and in the report, never as
empty boxes: the heatmap's tick labels (Plotly, FONT_FAMILY in static/js/text.js) and the line
view's tokens (the CSS stack in static/app.css).

Two independent witnesses, for every Chinese label:
- the font Chromium itself reports drawing the label with (DevTools' CSS.getPlatformFontsForNode)
  is one of the CJK fonts the stacks name;
- the label's text, drawn on a canvas with the label's own font stack, is not the box drawn for
  U+E000, a private-use code point no font here has, and the five characters of 我爱吃苹果 draw
  five different pictures (missing glyphs all draw the same box).
(`document.fonts.check("12px 'Noto Sans CJK SC'", ...)` proves nothing: it answers true for a
system font, and for a font that does not exist at all.)

The control case runs the same checks in a Chromium whose fontconfig refuses every font with
Chinese (as on a machine without fonts-noto-cjk) and expects them to find boxes.
"""

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from tests.browser.conftest import (
    CHROMIUM,
    CHROMIUM_ARGS,
    PageWatch,
    open_report,
    run_text,
    save_report,
)

pytestmark = pytest.mark.browser

DEMO = "我爱吃苹果"
TRANSLATION = {"model": "transformer-zh-en", "text": DEMO, "target": "I love apples"}
# The CJK fonts the pages' font stacks name (static/app.css, static/js/text.js).
CJK_FONTS = {
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "PingFang SC",
    "Hiragino Sans GB",
    "Microsoft YaHei",
    "WenQuanYi Micro Hei",
}
# Where Chinese labels are drawn: Plotly's tick labels and the line view's SVG text.
LABELS = ("#heatmap .xtick text", "#lines .line-token.key")

# Each element's text drawn on a canvas with the element's own font stack, and the box drawn
# for U+E000 with the same stack.
DRAW_JS = """(selector) => {
  const draw = (text, family) => {
    const canvas = document.createElement("canvas");
    canvas.width = 48;
    canvas.height = 48;
    const context = canvas.getContext("2d");
    context.font = `40px ${family}`;
    context.textBaseline = "top";
    context.fillText(text, 4, 4);
    return context.getImageData(0, 0, 48, 48).data.join(",");
  };
  return [...document.querySelectorAll(selector)].map((node) => {
    const family = getComputedStyle(node).fontFamily;
    const picture = draw(node.textContent, family);
    return { text: node.textContent, family, picture, box: picture === draw("\\uE000", family) };
  });
}"""

# A fontconfig that loads the system's fonts but refuses any font that covers Chinese.
NO_CHINESE_FONTS = """<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">
<fontconfig>
  <include ignore_missing="yes">/etc/fonts/fonts.conf</include>
  <selectfont><rejectfont>
    <pattern><patelt name="lang"><string>zh</string></patelt></pattern>
  </rejectfont></selectfont>
</fontconfig>
"""


@dataclass(frozen=True)
class Drawn:
    """How one Chinese label was drawn."""

    text: str
    family: str  # the stack the label asks for
    fonts: frozenset[str]  # the fonts Chromium drew it with
    box: bool  # its picture is the missing-glyph box
    picture: str


def _chinese(text: str) -> bool:
    return any("\u4e00" <= char <= "\u9fff" for char in text)


def _platform_fonts(page: Page, selector: str) -> list[frozenset[str]]:
    devtools = page.context.new_cdp_session(page)
    devtools.send("DOM.enable")
    devtools.send("CSS.enable")
    root = devtools.send("DOM.getDocument")["root"]["nodeId"]
    nodes = devtools.send("DOM.querySelectorAll", {"nodeId": root, "selector": selector})
    fonts = [
        frozenset(
            font["familyName"]
            for font in devtools.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
        )
        for node in nodes["nodeIds"]
    ]
    devtools.detach()
    return fonts


def drawn_chinese(page: Page, selector: str) -> list[Drawn]:
    pictures = page.evaluate(DRAW_JS, selector)
    fonts = _platform_fonts(page, selector)
    assert len(fonts) == len(pictures)
    return [
        Drawn(p["text"], p["family"], used, p["box"], p["picture"])
        for p, used in zip(pictures, fonts, strict=True)
        if _chinese(p["text"])
    ]


def assert_glyphs_drawn(page: Page) -> None:
    for selector in LABELS:
        drawn = drawn_chinese(page, selector)
        assert [d.text for d in drawn] == list(DEMO), selector
        for label in drawn:
            assert "Noto Sans CJK SC" in label.family, label.family
            assert label.fonts and label.fonts <= CJK_FONTS, (selector, label.text, label.fonts)
            assert not label.box, (selector, label.text)
        assert len({label.picture for label in drawn}) == len(DEMO), selector


def test_the_page_draws_chinese_with_a_font_that_has_it(page: Page) -> None:
    page.select_option("#model", "transformer-zh-en")
    page.fill("#target", TRANSLATION["target"])
    run_text(page, DEMO)
    assert_glyphs_drawn(page)


@pytest.fixture
def report_file(live_server: str, tmp_path: Path) -> Path:
    return save_report(live_server, tmp_path, TRANSLATION)


def test_the_report_draws_chinese_with_a_font_that_has_it(
    offline_page: Page, report_file: Path
) -> None:
    open_report(offline_page, report_file)
    assert_glyphs_drawn(offline_page)


@pytest.fixture
def page_without_chinese_fonts(browser: Browser, tmp_path: Path) -> Iterator[Page]:
    """A Chromium that sees every font of this machine except those with Chinese glyphs."""
    config = tmp_path / "fonts.conf"
    config.write_text(NO_CHINESE_FONTS)
    bare = browser.browser_type.launch(
        executable_path=str(CHROMIUM),
        args=CHROMIUM_ARGS,
        env={**os.environ, "FONTCONFIG_FILE": str(config)},
    )
    page = bare.new_page(viewport={"width": 1300, "height": 1000})
    page.watch = PageWatch(page)  # type: ignore[attr-defined]
    yield page
    bare.close()


def test_without_chinese_fonts_the_check_finds_boxes(
    page_without_chinese_fonts: Page, report_file: Path
) -> None:
    page = page_without_chinese_fonts
    open_report(page, report_file)
    for selector in LABELS:
        drawn = drawn_chinese(page, selector)
        assert [d.text for d in drawn] == list(DEMO)
        for label in drawn:
            assert label.box, (selector, label.text)
            assert not label.fonts & CJK_FONTS, (selector, label.text, label.fonts)
        assert len({label.picture for label in drawn}) == 1  # one box, five times
    with pytest.raises(AssertionError):
        assert_glyphs_drawn(page)
