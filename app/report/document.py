"""The standalone report: one HTML file that carries a run, Plotly.js and the page's drawing
code, and opens from disk with no network.

Everything the file runs is inline and named by hash in its own Content-Security-Policy, so
nothing else can run in it, and it may fetch nothing. The run travels as the /attention
response itself, in a `<script type="application/json">` block escaped so that no token text
can end that block.
"""

import base64
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from functools import cache

import jinja2
import orjson
import plotly.offline
from markupsafe import Markup

from app.attention.analysis import Options
from app.report.bundle import bundle
from app.settings import PROJECT_ROOT

STATIC = PROJECT_ROOT / "static"
SCRIPT_ENTRY = "report.js"  # under static/js
STYLESHEETS = ("app.css", "report.css")  # under static

_environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(PROJECT_ROOT / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)

# In JSON, these characters only ever occur inside strings, where \uXXXX means the same:
# escaped, the data can neither close the script element nor break a JavaScript parser.
_JSON_IN_HTML = {
    b"<": b"\\u003c",
    b">": b"\\u003e",
    b"&": b"\\u0026",
    "\u2028".encode(): b"\\u2028",
    "\u2029".encode(): b"\\u2029",
}


_SCRIPT_MARKUP = re.compile(r"<(!--|/?script)", re.IGNORECASE)


@dataclass(frozen=True)
class Pooling:
    """A run too large to embed whole: every matrix pooled to at most max_size a side."""

    full_weights: int
    bound: int
    max_size: int


@dataclass(frozen=True)
class ReportFacts:
    """What the report states about its run, besides the run itself."""

    model_id: str
    model_name: str
    variant: str | None
    text: str
    target: str | None
    output_text: str | None
    max_new_tokens: int | None  # the budget the model wrote with, when it wrote
    options: Options
    layers: list[int] | None
    heads: list[int] | None
    request: str  # the path and query that made the report, to make it again
    created: datetime
    server_version: str
    pooling: Pooling | None


def json_for_script(data: bytes) -> Markup:
    """JSON bytes, safe as the text of a `<script type="application/json">` element."""
    for raw, escaped in _JSON_IN_HTML.items():
        data = data.replace(raw, escaped)
    return Markup(data.decode())


def script_text(source: str) -> str:
    """JavaScript safe as the text of a script element: the "<" of "<!--", "<script" and
    "</script" (any case) written as \\x3C, which reads the same in the strings, regular
    expressions and comments that alone can hold them."""
    return _SCRIPT_MARKUP.sub(lambda match: "\\x3C" + match.group(1), source)


def _hash_source(script: str) -> str:
    digest = hashlib.sha256(script.encode()).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


@cache
def _plotly() -> tuple[str, str]:
    """Plotly.js from the installed package, and its hash source: read and hashed once."""
    script = script_text(plotly.offline.get_plotlyjs())
    return script, _hash_source(script)


def _stylesheet() -> str:
    css = "\n".join((STATIC / name).read_text(encoding="utf-8") for name in STYLESHEETS)
    if "</style" in css.lower():
        raise ValueError("a report stylesheet contains '</style', which would end the element")
    return css


def content_security_policy(script_hashes: list[str]) -> str:
    """Only the file's own scripts run; nothing is fetched. Plotly writes inline styles and
    draws heatmaps as data: images."""
    return "; ".join(
        [
            "default-src 'none'",
            f"script-src {' '.join(script_hashes)}",
            "style-src 'unsafe-inline'",
            "img-src data: blob:",
            "font-src data:",
            "base-uri 'none'",
            "form-action 'none'",
        ]
    )


def render_report(attention_json: bytes, facts: ReportFacts) -> str:
    """The report's HTML: `attention_json` is the /attention response body of the run."""
    plotly_script, plotly_hash = _plotly()
    script = script_text(bundle(STATIC / "js", SCRIPT_ENTRY))
    meta = {"max_size": facts.pooling.max_size if facts.pooling else None}
    return _environment.get_template("report.html").render(
        facts=facts,
        options=facts.options,
        plotly_version=plotly.offline.get_plotlyjs_version(),
        csp=content_security_policy([plotly_hash, _hash_source(script)]),
        stylesheet=Markup(_stylesheet()),
        attention_json=json_for_script(attention_json),
        meta_json=json_for_script(orjson.dumps(meta)),
        plotly_script=Markup(plotly_script),
        report_script=Markup(script),
    )
