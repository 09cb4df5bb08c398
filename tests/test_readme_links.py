"""Every link in the README resolves: to a file or folder of the repository, and to a heading
of the README or of the linked Markdown file when it names an anchor (as GitHub makes them)."""

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import markdown
import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


class _Page(HTMLParser):
    """The link targets of rendered Markdown (`<a href>`, `<img src>`) and its headings' text."""

    def __init__(self) -> None:
        super().__init__()
        self.targets: list[str] = []
        self.headings: list[str] = []
        self._heading: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = {"a": "href", "img": "src"}.get(tag)
        for name, value in attrs:
            if name == wanted and value is not None:
                self.targets.append(value)
        if re.fullmatch(r"h[1-6]", tag):
            self._heading = []

    def handle_data(self, data: str) -> None:
        if self._heading is not None:
            self._heading.append(data)

    def handle_endtag(self, tag: str) -> None:
        if re.fullmatch(r"h[1-6]", tag) and self._heading is not None:
            self.headings.append("".join(self._heading))
            self._heading = None


def _rendered(path: Path) -> _Page:
    page = _Page()
    page.feed(markdown.markdown(path.read_text(), extensions=["fenced_code", "tables"]))
    return page


def github_anchors(headings: list[str]) -> set[str]:
    """The anchors GitHub gives headings: lower case, punctuation dropped, spaces as hyphens,
    and -1, -2... after a repeated one."""
    anchors: set[str] = set()
    for heading in headings:
        anchor = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        repeat, unique = 0, anchor
        while unique in anchors:
            repeat += 1
            unique = f"{anchor}-{repeat}"
        anchors.add(unique)
    return anchors


def _local_targets() -> list[str]:
    return [t for t in _rendered(README).targets if not urlsplit(t).scheme]


def test_the_readme_has_links_to_check() -> None:
    # A parser that found nothing would make the test below pass on any README.
    targets = _local_targets()
    assert any(t.startswith("docs/") for t in targets)
    assert any(t.startswith("#") or "#" in t for t in targets)


@pytest.mark.parametrize("target", _local_targets())
def test_a_readme_link_resolves(target: str) -> None:
    parts = urlsplit(target)
    path = (ROOT / unquote(parts.path)).resolve() if parts.path else README
    assert path.is_relative_to(ROOT), f"{target} leaves the repository"
    assert path.exists(), f"{target}: no file {path.relative_to(ROOT)}"
    if parts.fragment:
        assert path.suffix == ".md", f"{target}: an anchor into a file that is not Markdown"
        anchors = github_anchors(_rendered(path).headings)
        assert parts.fragment in anchors, f"{target}: no heading with that anchor in {path.name}"


def test_github_anchors_follow_githubs_rules() -> None:
    assert github_anchors(["Run it", "Blocks: names and shapes", "`POST /api/v1/align`"]) == {
        "run-it",
        "blocks-names-and-shapes",
        "post-apiv1align",
    }
    assert github_anchors(["Options", "Options"]) == {"options", "options-1"}
