"""A client that does not read holds up nobody but itself, on a real server on loopback: beside
a generation whose client never reads (a raw socket with a 4 KB receive buffer), short MiniLM
requests are answered as if it were not there, and the server drops the stream once its send
timeout has passed. Loops are bounded in count and time."""

import json
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import server_process

WORDS = "the old lighthouse keeper counted ships while the gulls argued over bread".split()
# 1,385 of these words are 1,500 SmolLM2 tokens.
PROMPT_WORDS = 1385
SEND_TIMEOUT_S = 10


def _prompt(words: int = PROMPT_WORDS) -> str:
    return " ".join(WORDS[i % len(WORDS)] for i in range(words))


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    env = {
        "ATTN_ENABLED_MODELS": '["minilm", "smollm2"]',
        # Probes once a second from one address: the slot, not the rate limit, is under test.
        "ATTN_RATE_LIMIT": "",
        "ATTN_STREAM_SEND_TIMEOUT_S": str(SEND_TIMEOUT_S),
    }
    with server_process(env) as (url, _):
        yield url


def _unread_request(url: str, body: dict[str, object], headers: dict[str, str]) -> socket.socket:
    """A whole request on a socket with a 4 KB receive buffer that is never read."""
    host, port = url.removeprefix("http://").split(":")
    payload = json.dumps(body).encode()
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    request = (
        f"POST /api/v1/generate HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"{head}Content-Length: {len(payload)}\r\n\r\n"
    ).encode()
    connection = socket.socket()
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connecting
    connection.settimeout(5)
    connection.connect((host, int(port)))
    connection.sendall(request + payload)
    return connection


def _metric(client: httpx.Client, name: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    raise AssertionError(f"/metrics has no {name}")


def _probe_once_a_second(
    client: httpx.Client, seconds: int, label: str
) -> tuple[list[float], list[float]]:
    """A short MiniLM request (a new text each time: a forward pass) once a second, from the
    moment the unread generation was sent: its latencies, and after each the number of model
    turns held (attn_inference_running)."""
    latencies, running = [], []
    begin = time.monotonic()
    for i in range(seconds):
        time.sleep(max(0.0, begin + i - time.monotonic()))
        body = {"model": "minilm", "text": f"{label} {i}: the cat sat on the mat", "layers": [0]}
        sent = time.perf_counter()
        response = client.post("/api/v1/attention", json=body, timeout=90)
        latencies.append(time.perf_counter() - sent)
        assert response.status_code == 200, (i, response.status_code, response.text)
        assert response.headers["x-cache"] == "miss"
        running.append(_metric(client, "attn_inference_running"))
    return latencies, running


@pytest.mark.timing
def test_a_stream_nobody_reads_holds_up_nobody_else(server: str) -> None:
    with httpx.Client(base_url=server) as client:
        client.post("/api/v1/attention", json={"model": "minilm", "text": "warm up"})
        abandoned = _metric(client, "attn_requests_abandoned_total")
        body = {"model": "smollm2", "text": _prompt(), "encoding": "json"}
        unread = _unread_request(server, body, {"Accept": "text/event-stream"})
        try:
            # From the moment it is sent: its prompt's model work runs meanwhile, and the
            # probes run in its gaps (the gate's scheduling), then beside the unread stream.
            latencies, running = _probe_once_a_second(client, 75, "beside a stream")
            # By now the stream's send timeout has long passed: the server has dropped it.
            dropped = _metric(client, "attn_requests_abandoned_total") - abandoned
        finally:
            unread.close()
    let_go_s = next(i for i in range(len(running)) if not any(running[i:]))
    print(
        f"75 MiniLM requests, one a second, beside an unread stream: median "
        f"{1000 * sorted(latencies)[37]:.0f} ms, slowest {1000 * max(latencies):.0f} ms; "
        f"the stream's model turn was let go for good after about {let_go_s} s"
    )
    assert max(latencies) <= 1.0
    # The model's turn is not held while the server waits on the client that does not read.
    assert let_go_s < 45
    assert dropped == 1


@pytest.mark.timing
def test_a_json_generation_nobody_reads_holds_up_nobody_else(server: str) -> None:
    """The JSON form is sent once the generation is over, its slot already let go."""
    with httpx.Client(base_url=server) as client:
        client.post("/api/v1/attention", json={"model": "minilm", "text": "warm up"})
        body = {"model": "smollm2", "text": _prompt(), "encoding": "json", "max_new_tokens": 8}
        unread = _unread_request(server, body, {})
        try:
            latencies, running = _probe_once_a_second(client, 20, "beside a JSON body")
        finally:
            unread.close()
    print(
        f"20 MiniLM requests, one a second, beside an unread JSON generation: slowest "
        f"{1000 * max(latencies):.0f} ms; turns held after each: {running}"
    )
    assert max(latencies) <= 1.0
    assert not any(running[-5:])
