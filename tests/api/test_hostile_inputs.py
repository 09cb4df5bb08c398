"""A catalogue of bad and strange inputs: each gets a 4xx with a message, never a 500."""

import json

import pytest
from fastapi.testclient import TestClient

GOOD = {"model": "minilm", "text": "A perfectly ordinary sentence"}
JSON = {"content-type": "application/json"}

# (name, raw body, content type) -> must be a 4xx with a "detail" message.
RAW_BODIES = [
    ("empty body", b"", "application/json"),
    ("malformed json", b'{"model": "minilm", "text": ', "application/json"),
    ("json array", b"[1, 2, 3]", "application/json"),
    ("json string", b'"minilm"', "application/json"),
    ("json null", b"null", "application/json"),
    ("deeply nested", b"[" * 50_000 + b"]" * 50_000, "application/json"),
    (
        "nested field",
        b'{"model":"minilm","text":"a","layers":' + b"[" * 5000 + b"]" * 5000 + b"}",
        "application/json",
    ),
    ("huge", json.dumps({**GOOD, "text": "a" * 200_000}).encode(), "application/json"),
    ("form encoded", b"model=minilm&text=hi", "application/x-www-form-urlencoded"),
    ("plain text", json.dumps(GOOD).encode(), "text/plain"),
    ("invalid utf-8", b'{"model": "minilm", "text": "\xff\xfe"}', "application/json"),
]

FIELDS = [
    ("missing text", {"model": "minilm"}),
    ("missing model", {"text": "hi"}),
    ("empty", {**GOOD, "text": ""}),
    ("whitespace only", {**GOOD, "text": " \t\n  "}),
    ("zero-width only", {**GOOD, "text": "\u200b\u200c\u200d"}),
    ("NUL character", {**GOOD, "text": "hello\u0000world"}),
    ("bell character", {**GOOD, "text": "ring \u0007 ring"}),
    ("escape sequence", {**GOOD, "text": "\u001b[31mred"}),
    ("lone surrogate", {**GOOD, "text": "bad \ud800 text"}),
    ("text as number", {**GOOD, "text": 42}),
    ("text as list", {**GOOD, "text": ["a", "b"]}),
    ("text as object", {**GOOD, "text": {"a": 1}}),
    ("model as number", {**GOOD, "model": 7}),
    ("model as null", {**GOOD, "model": None}),
    ("unknown model", {**GOOD, "model": "gpt-17"}),
    ("path-like model", {**GOOD, "model": "../../etc/passwd"}),
    ("absolute path model", {**GOOD, "model": "/etc/passwd"}),
    ("url-encoded path model", {**GOOD, "model": "..%2f..%2fetc"}),
    ("windows path model", {**GOOD, "model": "..\\..\\windows"}),
    ("very long model id", {**GOOD, "model": "m" * 10_000}),
    ("layer out of range", {**GOOD, "layers": [99]}),
    ("negative layer", {**GOOD, "layers": [-1]}),
    ("huge layer", {**GOOD, "layers": [2**63]}),
    ("layer as string", {**GOOD, "layers": ["1"]}),
    ("layer as bool", {**GOOD, "layers": [True]}),
    ("layer as float", {**GOOD, "layers": [1.5]}),
    ("layers as scalar", {**GOOD, "layers": 1}),
    ("too many layers", {**GOOD, "layers": list(range(1000))}),
    ("head out of range", {**GOOD, "heads": [12]}),
    ("negative head", {**GOOD, "heads": [-3]}),
    ("unknown encoding", {**GOOD, "encoding": "base32"}),
    ("max_size zero", {**GOOD, "max_size": 0}),
    ("max_size huge", {**GOOD, "max_size": 10**9}),
    ("unknown field", {**GOOD, "temperature": 2}),
    ("target on an encoder", {**GOOD, "target": "hello"}),
    ("variant on a plain model", {**GOOD, "variant": "dot"}),
    ("too many tokens", {**GOOD, "text": "hi " * 1000}),
    ("too many characters", {**GOOD, "text": "x" * 20_001}),
    ("max_new_tokens zero", {"model": "tiny-gpt2", "text": "the cat", "max_new_tokens": 0}),
    (
        "max_new_tokens over the cap",
        {"model": "tiny-gpt2", "text": "the cat", "max_new_tokens": 10**6},
    ),
    ("empty target", {"model": "tiny-bart", "text": "the cat", "target": ""}),
    ("control character target", {"model": "tiny-bart", "text": "the cat", "target": "a\u0000"}),
    ("target too long", {"model": "tiny-bart", "text": "the cat", "target": "cat " * 400}),
]

# Strange but valid text: served (200), never a 500.
STRANGE_BUT_FINE = [
    "emoji 😀🎉 and a family 👨‍👩‍👧",
    "RTL: שלום עולם and مرحبا بالعالم",
    "zero\u200bwidth\u200cjoiners\u200d here",
    "combining: e\u0301 a\u0308 n\u0303",
    "<script>alert(1)</script> & \"quotes\" 'single'",
    "tabs\tand\nnew\r\nlines",
    "数学 and Ελληνικά and русский",
    "\ufeffbyte order mark first",
]


@pytest.mark.parametrize(
    ("name", "raw", "content_type"), RAW_BODIES, ids=[r[0] for r in RAW_BODIES]
)
def test_raw_bodies_are_refused_with_a_message(
    client: TestClient, name: str, raw: bytes, content_type: str
) -> None:
    response = client.post("/api/v1/attention", content=raw, headers={"content-type": content_type})
    assert 400 <= response.status_code < 500, (name, response.status_code, response.text[:200])
    assert response.json()["detail"]


@pytest.mark.parametrize(("name", "body"), FIELDS, ids=[f[0] for f in FIELDS])
def test_bad_fields_are_refused_with_a_message(client: TestClient, name: str, body: dict) -> None:
    for path in ("/api/v1/attention", "/api/v1/explain"):
        payload = (
            body if path.endswith("attention") else {**body, "layer": 0, "head": 0, "query": 0}
        )
        # json.dumps escapes to ASCII, so even a lone surrogate travels as the JSON escape \ud800.
        response = client.post(path, content=json.dumps(payload), headers=JSON)
        assert 400 <= response.status_code < 500, (name, path, response.status_code, response.text)
        detail = response.json()["detail"]
        assert isinstance(detail, str) and len(detail) > 10


@pytest.mark.parametrize("text", STRANGE_BUT_FINE)
@pytest.mark.parametrize("model", ["minilm", "tiny-gpt2", "tiny-bart", "tiny-t5"])
def test_strange_but_valid_text_is_served(client: TestClient, model: str, text: str) -> None:
    response = client.post("/api/v1/attention", json={"model": model, "text": text})
    assert response.status_code == 200, response.text
    assert response.json()["blocks"]


def test_the_server_keeps_serving_after_the_catalogue(client: TestClient) -> None:
    assert client.post("/api/v1/attention", json=GOOD).status_code == 200
    assert client.get("/healthz").json()["status"] == "ok"
