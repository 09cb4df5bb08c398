"""GET /api/v1/report: one self-contained HTML file per run, with the /attention response of
the same request embedded, its own scripts only, and the checks of /attention."""

import base64
import hashlib
import html
import json
import re
from collections.abc import Iterator
from typing import Any

import plotly.offline
import pytest
from fastapi.testclient import TestClient

from app.api.deps import get_app_settings
from app.report.document import script_text
from app.settings import Settings
from tests.conftest import DEMO_SENTENCE

DEMO = "我爱吃苹果"
HOSTILE = "<img src=x onerror=alert(1)> </script><script>alert(1)</script> & \u2028 \u2029"
# XML namespaces: names that createElementNS takes, never fetched.
NAMESPACES = ("http://www.w3.org/2000/svg",)
SCRIPT = re.compile(r"<script([^>]*)>(.*?)</script>", re.DOTALL)


def _report(client: TestClient, params: dict[str, Any] | list[tuple[str, str]]) -> str:
    response = client.get("/api/v1/report", params=params)
    assert response.status_code == 200, response.text
    return response.text


def _scripts(page: str) -> list[tuple[str, str]]:
    """(attributes, text) of every script element, in order."""
    return [(m.group(1).strip(), m.group(2)) for m in SCRIPT.finditer(page)]


def _embedded(page: str, element_id: str) -> Any:
    for attributes, text in _scripts(page):
        if attributes == f'type="application/json" id="{element_id}"':
            return json.loads(text)
    raise AssertionError(f"no JSON block {element_id}")


def _attention(client: TestClient, **body: Any) -> Any:
    response = client.post("/api/v1/attention", json={"encoding": "float16", **body})
    assert response.status_code == 200, response.text
    return response.json()


def test_a_report_is_an_html_attachment_naming_the_model(client: TestClient) -> None:
    response = client.get(
        "/api/v1/report", params={"model": "transformer-zh-en", "text": DEMO, "target": "I love"}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    disposition = response.headers["content-disposition"]
    assert re.fullmatch(
        r'attachment; filename="attention-report-transformer-zh-en-\d{8}-\d{6}\.html"',
        disposition,
    )
    page = response.text
    assert page.startswith("<!doctype html>")
    for fact in ("transformer-zh-en", DEMO, "I love", "Attention Visualizer 0.1.0", " UTC"):
        assert fact in page


@pytest.mark.parametrize(
    "fields",
    [
        {"model": "transformer-zh-en", "text": DEMO, "target": "I love apples"},
        {"model": "transformer-zh-en", "text": DEMO},  # generated: the output text is embedded
        {"model": "luong-zh-en", "text": DEMO, "variant": "concat", "granularity": "word"},
        {
            "model": "minilm",
            "text": DEMO_SENTENCE,
            "layers": [1, 4],
            "heads": [0, 3],
            "special_tokens": "drop",
            "weighting": "value_norm",
        },
        {"model": "minilm", "text": DEMO_SENTENCE, "aggregate": "rollout", "layers": [5]},
        {"model": "tiny-gpt2", "text": "the cat sat", "max_new_tokens": 3},
    ],
)
def test_the_embedded_run_is_the_attention_response(
    client: TestClient, fields: dict[str, Any]
) -> None:
    params = [
        (name, str(item))
        for name, value in fields.items()
        for item in (value if isinstance(value, list) else [value])
    ]
    page = _report(client, params)
    assert _embedded(page, "attention-data") == _attention(client, **fields)
    assert _embedded(page, "report-meta") == {"max_size": None}


def test_lists_are_repeated_or_comma_separated(client: TestClient) -> None:
    base = [("model", "minilm"), ("text", "time flies like an arrow"), ("heads", "5")]
    repeated = _report(client, [*base, ("layers", "2"), ("layers", "0")])
    commas = _report(client, [*base, ("layers", "2, 0")])
    expected = _attention(
        client, model="minilm", text="time flies like an arrow", layers=[2, 0], heads=[5]
    )
    assert _embedded(repeated, "attention-data") == expected
    assert _embedded(commas, "attention-data") == expected


def test_token_text_cannot_leave_its_json_block(client: TestClient) -> None:
    page = _report(client, {"model": "minilm", "text": HOSTILE})
    scripts = _scripts(page)
    # Exactly the report's own four script elements: the hostile text opened none and closed
    # none early (it would have split the data block in two).
    assert [attributes for attributes, _ in scripts] == [
        'type="application/json" id="attention-data"',
        'type="application/json" id="report-meta"',
        "",
        'type="module"',
    ]
    data_block = scripts[0][1]
    for raw in ("<", ">", "&", "\u2028", "\u2029"):
        assert raw not in data_block
    tokens = json.loads(data_block)["tokens"]["source"]
    assert {"<", ">", "&", "script", "alert"} <= set(tokens)
    # Elsewhere the text is HTML-escaped: it appears once, escaped, in the facts.
    assert "<img src=x" not in page
    assert html.escape(HOSTILE, quote=False).split("\u2028")[0] in page


def _page_without_plotly(page: str) -> str:
    plotly_js = script_text(plotly.offline.get_plotlyjs())
    assert page.count(plotly_js) == 1
    return page.replace(plotly_js, "")


def test_the_report_loads_nothing_from_anywhere(client: TestClient) -> None:
    page = _report(client, {"model": "transformer-zh-en", "text": DEMO, "target": "I love"})
    # No element names a source or a stylesheet to fetch, in the whole file.
    assert not re.search(r"<(script|link|img|iframe|object|embed|source)\b[^>]*\b(src|href)=", page)
    # No URL and no import outside Plotly's own code, whose map tiles, CDN and module loader
    # serve trace types the report never draws (and its policy lets nothing connect anyway).
    rest = _page_without_plotly(page)
    for namespace in NAMESPACES:
        rest = rest.replace(namespace, "")
    assert "http://" not in rest and "https://" not in rest and "//cdn" not in rest
    assert "<link" not in rest and "@import" not in rest and "import(" not in rest


def test_its_policy_lets_only_its_own_scripts_run(client: TestClient) -> None:
    page = _report(client, {"model": "minilm", "text": "time flies like an arrow"})
    match = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', page)
    assert match is not None
    policy = dict(
        [*directive.split(" ", 1), ""][:2]
        for directive in html.unescape(match.group(1)).split("; ")
    )
    assert policy["default-src"] == "'none'"
    assert "connect-src" not in policy  # default-src 'none' covers it
    executable = [text for attributes, text in _scripts(page) if "json" not in attributes]
    hashes = {
        "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"
        for text in executable
    }
    assert set(policy["script-src"].split()) == hashes


@pytest.mark.parametrize(
    ("model", "params", "body"),
    [
        ("no-such-model", {}, {}),
        ("bahdanau-zh-en", {"granularity": "letters"}, {"granularity": "letters"}),
        ("bahdanau-zh-en", {"weighting": "value_norm"}, {"weighting": "value_norm"}),
        ("bahdanau-zh-en", {"aggregate": "rollout"}, {"aggregate": "rollout"}),
        ("bahdanau-zh-en", {"layers": "7"}, {"layers": [7]}),
        ("bahdanau-zh-en", {"variant": "dot"}, {"variant": "dot"}),
        ("bahdanau-zh-en", {"max_new_tokens": "99"}, {"max_new_tokens": 99}),
        ("minilm", {"text": "x" * 20001}, {"text": "x" * 20001}),
        ("minilm", {"text": "a\x00b"}, {"text": "a\x00b"}),
        ("minilm", {"text": "   "}, {"text": "   "}),
    ],
)
def test_refusals_are_those_of_attention(
    client: TestClient, model: str, params: dict[str, str], body: dict[str, Any]
) -> None:
    report = client.get("/api/v1/report", params={"model": model, "text": DEMO, **params})
    attention = client.post("/api/v1/attention", json={"model": model, "text": DEMO, **body})
    assert report.status_code == attention.status_code
    assert report.status_code in (404, 422)
    assert report.json()["detail"] == attention.json()["detail"]


def test_a_misspelt_parameter_is_refused_by_name(client: TestClient) -> None:
    response = client.get("/api/v1/report", params={"model": "minilm", "text": "hi", "layer": 1})
    assert response.status_code == 422
    assert "layer: Extra inputs are not permitted" in response.json()["detail"]


@pytest.fixture
def report_bound(client: TestClient) -> Iterator[Any]:
    """Sets the report's weight bound of the test server for one test."""
    app: Any = client.app
    settings: Settings = app.state.settings

    def bound(weights: int) -> None:
        narrowed = settings.model_copy(update={"report_max_weights": weights})
        app.dependency_overrides[get_app_settings] = lambda: narrowed

    yield bound
    app.dependency_overrides.pop(get_app_settings, None)


LONG = " ".join(["the quick brown fox jumps over the lazy dog"] * 5)  # 47 MiniLM tokens


def test_a_run_beyond_the_bound_is_pooled_and_says_so(
    client: TestClient, report_bound: Any
) -> None:
    fields = {"model": "minilm", "text": LONG, "layers": [2], "heads": [1]}
    report_bound(1000)  # 47 × 47 = 2209 weights: pooled to 31 × 31 fits (24 × 24 = 576)
    page = _report(client, {**fields, "layers": "2", "heads": "1"})
    meta = _embedded(page, "report-meta")
    assert meta == {"max_size": 31}
    embedded = _embedded(page, "attention-data")
    assert embedded == _attention(client, **fields, max_size=31)
    assert embedded["blocks"][0]["pooled_from"] == [1, 47, 47]
    assert "pooled to at most 31 × 31" in page


def test_a_bound_no_pooling_can_meet_asks_for_less(client: TestClient, report_bound: Any) -> None:
    report_bound(1000)
    response = client.get("/api/v1/report", params={"model": "minilm", "text": LONG})
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert "a report carries at most 1,000" in detail and "fewer 'layers' or 'heads'" in detail
