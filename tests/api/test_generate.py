"""POST /api/v1/generate, read over loopback from a live server: the steps arrive one by one
while the model writes, each row is a distribution equal to the teacher-forced run of
/attention, the JSON mode carries the same steps, bad input is a JSON 4xx before any stream,
a failure mid-stream is an `error` event, and a client that leaves frees its slot at once."""

import json
import time
from collections.abc import Iterator
from pathlib import Path
from statistics import median
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.attention.ops.encode import decode
from app.main import create_app
from app.settings import Settings
from app.zoo.stepping import StepwiseGeneration
from tests.conftest import NO_RATE_LIMIT, serving

SSE = {"Accept": "text/event-stream"}
# This module's server writes up to this many tokens, enough for a generation that would
# run for many seconds if nobody stopped it.
MAX_NEW_TOKENS = 200
CAPITAL = "The capital of France is"
# SmolLM2 writes this prompt on and on without its end token (greedy, so every time).
RAMBLE = "orbit velvet quarry nimbus tundra glimmer orbit velvet quarry nimbus tundra glimmer"


@pytest.fixture(scope="module")
def server(tiny_models: dict[str, Path]) -> Iterator[tuple[str, FastAPI]]:
    settings = Settings(
        enabled_models=["smollm2"],
        hf_models={"tiny-gpt2": tiny_models["gpt2"]},
        max_new_tokens=MAX_NEW_TOKENS,
        **NO_RATE_LIMIT,
    )
    app = create_app(settings)
    with serving(app) as url:
        yield url, app


class ForwardCount:
    """How many forward passes a model of the live server has run so far."""

    def __init__(self, app: FastAPI, model_id: str) -> None:
        self.calls = 0
        model = app.state.registry.get(model_id).model
        self._handle = model.register_forward_hook(self._count)

    def _count(self, *_: object) -> None:
        self.calls += 1

    def close(self) -> None:
        self._handle.remove()


def events(response: httpx.Response) -> Iterator[tuple[str, Any, float]]:
    """(name, data, arrival time) of each Server-Sent Event, as it arrives."""
    name = None
    for line in response.iter_lines():
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: "):
            yield str(name), json.loads(line.removeprefix("data: ")), time.monotonic()


def stream(url: str, body: dict[str, Any]) -> list[tuple[str, Any, float]]:
    with httpx.stream(
        "POST", f"{url}/api/v1/generate", json=body, headers=SSE, timeout=120
    ) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
        return list(events(response))


def rows(step: dict[str, Any]) -> np.ndarray:
    return decode(step["data"], step["shape"], step["encoding"])


def check_steps_against_attention(
    steps: list[dict[str, Any]], attention: dict[str, Any], prompt: int, tolerance: float
) -> None:
    """Step t equals row P + t - 1 of every decoder.L.self_attn block of the teacher-forced
    run, up to its diagonal; and sums to 1 over those keys."""
    blocks = [decode(b["data"], b["shape"], b["encoding"]) for b in attention["blocks"]]
    for t, step in enumerate(steps):
        got = rows(step)
        assert step["step"] == t and step["query"] == prompt + t - 1
        assert step["shape"] == [len(blocks), blocks[0].shape[0], prompt + t]
        # Each weight is off by at most half the tolerance once rounded to its encoding.
        assert np.abs(got.sum(-1) - 1).max() <= max(2e-3, (prompt + t) * tolerance / 2)
        forced = np.stack([block[:, prompt + t - 1, : prompt + t] for block in blocks])
        assert np.abs(got - forced).max() <= tolerance, f"step {t}"


@pytest.mark.timing
def test_smollm2_streams_each_step_as_it_writes_it(server: tuple[str, FastAPI]) -> None:
    url, app = server
    count = ForwardCount(app, "smollm2")
    forwards_on_arrival: list[int] = []
    try:
        received = []
        with httpx.stream(
            "POST",
            f"{url}/api/v1/generate",
            json={"model": "smollm2", "text": CAPITAL, "max_new_tokens": 8},
            headers=SSE,
            timeout=120,
        ) as response:
            for event in events(response):
                forwards_on_arrival.append(count.calls)
                received.append(event)
    finally:
        count.close()
    names = [name for name, _, _ in received]
    start, done = received[0][1], received[-1][1]
    steps = [data for name, data, _ in received if name == "step"]
    assert names == ["start"] + ["step"] * len(steps) + ["done"]
    prompt = len(start["prompt"])
    assert [t["text"] for t in start["prompt"]] == ["The", "capital", "of", "France", "is"]
    assert len(steps) == len(done["tokens"]) - prompt == 8 and done["stop"] == "max_new_tokens"
    assert [s["token"] for s in steps] == done["tokens"][prompt:]
    assert "Paris" in done["output_text"]
    # Streamed, not buffered: step t reached us while the server was at most on step t + 1 of
    # its 8 forward passes (one per step), and the steps arrived apart in time.
    for t, forwards in enumerate(forwards_on_arrival[1:-1]):
        assert forwards <= t + 2, forwards_on_arrival
    arrivals = [at for name, _, at in received if name == "step"]
    gaps = np.diff(arrivals)
    print(f"smollm2: {1000 * median(gaps):.0f} ms between steps (min {1000 * gaps.min():.0f})")
    assert median(gaps) > 0.005  # a step's work apart (one late read may bunch two)

    # The same text through /attention: generated by model.generate(), then one full
    # teacher-forced pass over the generated tokens.
    attention = httpx.post(
        f"{url}/api/v1/attention",
        json={"model": "smollm2", "text": CAPITAL, "max_new_tokens": 8, "encoding": "float16"},
        timeout=120,
    ).json()
    assert attention["tokens"]["target"] == [t["text"] for t in done["tokens"]]
    assert attention["output_text"] == done["output_text"]
    check_steps_against_attention(steps, attention, prompt, tolerance=2e-3)


@pytest.mark.parametrize(("encoding", "tolerance"), [("uint8", 1 / 255 + 1e-6), ("json", 1e-5)])
def test_rows_equal_attention_teacher_forced_on_the_written_text(
    server: tuple[str, FastAPI], encoding: str, tolerance: float
) -> None:
    url, _ = server
    body = {"model": "tiny-gpt2", "text": "the cat sat on the mat", "encoding": encoding}
    received = stream(url, {**body, "max_new_tokens": 6})
    start, done = received[0][1], received[-1][1]
    steps = [data for name, data, _ in received if name == "step"]
    assert len(steps) == 6 and all(s["encoding"] == encoding for s in steps)
    # The written text given as the target: the model is forced through it, not generating.
    attention = httpx.post(
        f"{url}/api/v1/attention",
        json={**body, "target": done["output_text"], "encoding": "json"},
        timeout=60,
    ).json()
    assert attention["output_text"] is None
    assert attention["tokens"]["target"] == [t["text"] for t in done["tokens"]]
    check_steps_against_attention(steps, attention, len(start["prompt"]), tolerance)


def test_without_the_header_one_json_body_carries_every_step(
    server: tuple[str, FastAPI],
) -> None:
    url, _ = server
    body = {"model": "tiny-gpt2", "text": "hello world", "max_new_tokens": 5}
    response = httpx.post(f"{url}/api/v1/generate", json=body, timeout=60)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    whole = response.json()
    assert list(whole) == [
        "model",
        "prompt",
        "max_new_tokens",
        "steps",
        "output_text",
        "tokens",
        "stop",
    ]
    received = stream(url, body)
    assert whole["steps"] == [data for name, data, _ in received if name == "step"]
    assert {k: whole[k] for k in ("output_text", "tokens", "stop")} == received[-1][1]
    assert (whole["model"], whole["max_new_tokens"], len(whole["steps"])) == ("tiny-gpt2", 5, 5)


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"model": "gpt-17", "text": "hi"}, 404, "unknown model 'gpt-17'"),
        ({"model": "minilm", "text": "hi"}, 422, "'minilm' is an encoder model"),
        ({"model": "tiny-bart", "text": "hi"}, 422, "is an encoder-decoder model"),
        ({"model": "tiny-gpt2", "text": "a" * 20001}, 422, "at most 20000"),
        ({"model": "tiny-gpt2", "text": "ring \u0007"}, 422, "control character"),
        ({"model": "tiny-gpt2", "text": "  "}, 422, "nothing to read"),
        ({"model": "tiny-gpt2", "text": "the " * 70}, 422, "accepts at most 64"),
        ({"model": "tiny-gpt2", "text": "the " * 64}, 422, "no room left"),
        ({"model": "tiny-gpt2", "text": "hi", "max_new_tokens": 9}, 422, "at most 8 tokens"),
        ({"model": "tiny-gpt2", "text": "hi", "max_new_tokens": 0}, 422, "max_new_tokens"),
        ({"model": "tiny-gpt2", "text": "hi", "encoding": "png"}, 422, "encoding"),
        ({"model": "tiny-gpt2", "text": "hi", "target": "x"}, 422, "target"),
    ],
)
def test_bad_input_is_a_json_4xx_before_any_stream(
    client: TestClient, body: dict[str, Any], status: int, message: str
) -> None:
    response = client.post("/api/v1/generate", json=body, headers=SSE)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert message in response.json()["detail"]


def test_a_failure_mid_stream_ends_it_with_an_error_event(
    server: tuple[str, FastAPI], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, _ = server
    real_step = StepwiseGeneration.step

    def fails_on_the_third(self: StepwiseGeneration) -> Any:
        if len(self.written) == 2:
            raise RuntimeError("a step failed")
        return real_step(self)

    monkeypatch.setattr(StepwiseGeneration, "step", fails_on_the_third)
    body = {"model": "tiny-gpt2", "text": "hello world"}
    received = stream(url, body)
    assert [name for name, _, _ in received] == ["start", "step", "step", "error"]
    assert "failed while generating" in received[-1][1]["detail"]
    response = httpx.post(f"{url}/api/v1/generate", json=body, timeout=60)
    assert response.status_code == 500 and "logged" in response.json()["detail"]


def _abandoned(url: str) -> float:
    for line in httpx.get(f"{url}/metrics").text.splitlines():
        if line.startswith("attn_requests_abandoned_total "):
            return float(line.split()[1])
    raise AssertionError("no attn_requests_abandoned_total in /metrics")


@pytest.mark.timing
def test_a_client_that_leaves_stops_the_generation_and_frees_its_slot(
    server: tuple[str, FastAPI],
) -> None:
    url, app = server
    gate = app.state.gate
    count = ForwardCount(app, "smollm2")
    abandoned_before = _abandoned(url)
    try:
        arrivals = []
        with httpx.Client(timeout=120) as http:
            body = {"model": "smollm2", "text": RAMBLE, "max_new_tokens": MAX_NEW_TOKENS}
            with http.stream("POST", f"{url}/api/v1/generate", json=body, headers=SSE) as reply:
                for name, _, at in events(reply):
                    if name == "step":
                        arrivals.append(at)
                    if len(arrivals) == 3:
                        break  # leaving the block closes the connection mid-stream
            left = time.monotonic()
            # A small request that needs the only slot (ATTN_INFERENCE_CONCURRENCY 1).
            small = {"model": "tiny-gpt2", "text": f"the cat sat {left}", "max_new_tokens": 2}
            answer = http.post(f"{url}/api/v1/attention", json=small)
            waited = time.monotonic() - left
        assert answer.status_code == 200 and answer.headers["x-cache"] == "miss"
        forwards = count.calls
        time.sleep(1.0)
        assert count.calls == forwards  # nothing runs on behind our back
        # The stream it left is counted once as abandoned.
        assert _abandoned(url) == abandoned_before + 1
    finally:
        count.close()
    step_s = median(np.diff(arrivals))
    remaining_s = (MAX_NEW_TOKENS - 3) * step_s
    print(
        f"abandoned after 3 of {MAX_NEW_TOKENS} steps ({1000 * step_s:.0f} ms each, about "
        f"{remaining_s:.0f} s left to write); the next request took {1000 * waited:.0f} ms; "
        f"{forwards} forward passes in all"
    )
    # The stream's slot came free within about one step: the one running when it left.
    assert waited < min(5.0, remaining_s / 10)
    assert forwards <= 3 + 2
    assert gate.slots.value == gate.concurrency
