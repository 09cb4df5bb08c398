"""One budget rule on every route, checked before any model work (docs/api.md, the generation
budget): a text that leaves less room than max_new_tokens writes what fits and the response
states the budget it used; a text that leaves no room, or a target that does not fit, is the
same 422 on every route, and no module of any model runs for it."""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import torch
from fastapi.testclient import TestClient

SSE = {"Accept": "text/event-stream"}
# The test server writes at most 8 tokens (TEST_LIMITS); its tiny models accept 64 in all.
CAP = 8


@contextmanager
def forward_passes() -> Iterator[list[int]]:
    """Counts the forward calls of every torch module in this process (the test client runs
    the app here): [0] afterwards means no model did any work."""
    calls = [0]

    def count(*_: object) -> None:
        calls[0] += 1

    handle = torch.nn.modules.module.register_module_forward_hook(count)
    try:
        yield calls
    finally:
        handle.remove()


def _events(text: str) -> list[tuple[str, Any]]:
    names = [line.removeprefix("event: ") for line in text.splitlines() if line[:7] == "event: "]
    data = [json.loads(line[6:]) for line in text.splitlines() if line[:6] == "data: "]
    return list(zip(names, data, strict=True))


def _answers(client: TestClient, routes: list[str], **fields: Any) -> dict[str, Any]:
    """Each route's answer to one run: (status, detail) for a refusal, else what it stated."""
    run = {k: v for k, v in fields.items() if v is not None}
    requests = {
        "attention": lambda: client.post(
            "/api/v1/attention", json={**run, "layers": [0], "encoding": "uint8"}
        ),
        "report": lambda: client.get("/api/v1/report", params={**run, "layers": "0"}),
        "generate": lambda: client.post("/api/v1/generate", json=run, headers=SSE),
        "align": lambda: client.post("/api/v1/align", json=run),
        "explain": lambda: client.post(
            "/api/v1/explain",
            json={**run, "stack": "decoder", "layer": 0, "head": 0, "query": 0},
        ),
    }
    answers = {}
    for route in routes:
        response = requests[route]()
        if response.status_code != 200:
            answers[route] = (response.status_code, response.json()["detail"])
        elif route == "generate":
            answers[route] = _events(response.text)
        else:
            answers[route] = response
    return answers


@pytest.mark.parametrize(
    ("model", "text", "target", "routes", "message"),
    [
        (
            "tiny-gpt2",
            "the " * 64,
            None,
            ["attention", "report", "generate"],
            "no room left to write a token (0 left); shorten the text by at least 1 token",
        ),
        (
            "tiny-gpt2",
            "the " * 60,
            "a cat sat on the",
            ["attention", "report"],
            "text and target together are 65 tokens; model 'tiny-gpt2' accepts at most 64: "
            "the text leaves room for 4 target tokens. Shorten them by 1.",
        ),
        (
            "tiny-bart",
            "the cat",
            "the " * 70,
            ["attention", "report", "align", "explain"],
            "the target is 72 tokens long; model 'tiny-bart' accepts at most 64",
        ),
        (
            "transformer-zh-en",
            "我爱吃苹果",
            "the " * 130,
            ["attention", "report", "align", "explain"],
            "the target has 130 tokens; this model reads at most 127",
        ),
    ],
)
def test_what_cannot_fit_is_the_same_422_on_every_route_before_any_work(
    client: TestClient,
    model: str,
    text: str,
    target: str | None,
    routes: list[str],
    message: str,
) -> None:
    with forward_passes() as calls:
        answers = _answers(client, routes, model=model, text=text, target=target)
    assert calls == [0]
    details = set(answers.values())
    assert len(details) == 1, answers
    status, detail = details.pop()
    assert status == 422 and message in detail


def test_a_text_that_leaves_less_room_writes_what_fits_and_says_so(client: TestClient) -> None:
    text = "the " * 60  # 60 of the 64 tokens: room for 4 of the 8 asked
    answers = _answers(client, ["attention", "report", "generate"], model="tiny-gpt2", text=text)
    attention = answers["attention"].json()
    assert attention["max_new_tokens"] == 4
    assert 60 < len(attention["tokens"]["target"]) <= 64
    report = answers["report"].text
    assert 'id="report-budget">written by the model, greedily, at most 4 tokens<' in report
    assert '"max_new_tokens":4' in report
    (start_name, start), *_, (done_name, done) = answers["generate"]
    assert (start_name, start["max_new_tokens"], done_name) == ("start", 4, "done")
    assert len(done["tokens"]) <= 64
    assert done["stop"] in ("max_tokens", "eos")

    # The run is keyed by the budget it wrote with: asking for 6 (shortened to 4 too) finds it.
    again = client.post(
        "/api/v1/attention",
        json={"model": "tiny-gpt2", "text": text, "max_new_tokens": 6, "layers": [0]},
    )
    assert again.headers["x-cache"] == "hit" and again.json()["max_new_tokens"] == 4
    fewer = client.post(
        "/api/v1/attention",
        json={"model": "tiny-gpt2", "text": text, "max_new_tokens": 3, "layers": [0]},
    )
    assert fewer.headers["x-cache"] == "miss" and fewer.json()["max_new_tokens"] == 3


@pytest.mark.parametrize(
    ("body", "budget"),
    [
        ({"model": "minilm", "text": "the cat sat"}, None),  # an encoder writes nothing
        ({"model": "tiny-gpt2", "text": "the cat", "target": "sat on"}, None),  # forced
        ({"model": "tiny-gpt2", "text": "the cat"}, CAP),
        ({"model": "bahdanau-zh-en", "text": "我爱吃苹果"}, CAP),
    ],
)
def test_the_budget_is_stated_only_when_the_model_writes(
    client: TestClient, body: dict[str, Any], budget: int | None
) -> None:
    response = client.post("/api/v1/attention", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["max_new_tokens"] == budget


def test_align_states_the_budget_of_the_translation_it_aligns(client: TestClient) -> None:
    wrote = client.post("/api/v1/align", json={"model": "bahdanau-zh-en", "text": "我爱吃苹果"})
    forced = client.post(
        "/api/v1/align",
        json={"model": "bahdanau-zh-en", "text": "我爱吃苹果", "target": "I love apples"},
    )
    assert (wrote.json()["max_new_tokens"], forced.json()["max_new_tokens"]) == (CAP, None)


def test_explain_opens_the_translation_attention_shows(client: TestClient) -> None:
    """A translation longer than the budget is cut at the same token on both routes."""
    text = "我们明天早上八点在火车站见面，然后一起去博物馆参观。"
    run = {"model": "transformer-zh-en", "text": text}
    shown = client.post("/api/v1/attention", json=run).json()
    assert shown["max_new_tokens"] == CAP and len(shown["tokens"]["target"]) == CAP
    opened = client.post(
        "/api/v1/explain", json={**run, "stack": "decoder", "layer": 0, "head": 0, "query": 0}
    )
    assert opened.status_code == 200, opened.text
    assert opened.json()["tokens"] == shown["tokens"]["target"]
