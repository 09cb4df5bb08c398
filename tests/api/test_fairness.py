"""No client takes the server from the others, on a real server on loopback: clients that
hang up get no work done, heavy JSON is refused before it is encoded, renders are bounded,
and /healthz stays quick throughout. Loops are bounded in count and time."""

import json
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.conftest import rss_bytes, server_process

WORDS = "the old lighthouse keeper counted ships while the gulls argued over bread".split()


def _long_text(seed: int, words: int = 380) -> str:
    """About 500 MiniLM tokens (with [CLS] and [SEP]), distinct for each seed."""
    body = " ".join(WORDS[(seed + i) % len(WORDS)] for i in range(words))
    return f"story {seed}: {body}"


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, int]]:
    # Hundreds of requests from one address: the fairness, not the rate limit, is under test.
    with server_process({"ATTN_ENABLED_MODELS": '["minilm"]', "ATTN_RATE_LIMIT": ""}) as running:
        yield running


def _send_and_hang_up(url: str, path: str, body: dict[str, object]) -> None:
    """A whole request, then the socket closed before any answer: a client that left."""
    host, port = url.removeprefix("http://").split(":")
    payload = json.dumps(body).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    ).encode()
    with socket.create_connection((host, int(port)), timeout=5) as connection:
        connection.sendall(head + payload)
    # closed here, unread


def _abandoned(client: httpx.Client) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith("attn_requests_abandoned_total "):
            return float(line.split()[1])
    raise AssertionError("/metrics has no attn_requests_abandoned_total")


def _wait_until_noticed(client: httpx.Client, before: float, count: int) -> None:
    """Until the server has seen all but two of `count` clients leave (at most 15 s; one whose
    answer was already written when it left is not abandoned). A fixed sleep is too short on
    a busy machine; what is under test is what happens once the server has noticed."""
    deadline = time.monotonic() + 15
    while _abandoned(client) < before + count - 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _abandoned(client) >= before + count - 2, "the server did not notice the hang-ups"


def _timed_post(client: httpx.Client, path: str, body: dict[str, object]) -> float:
    start = time.perf_counter()
    response = client.post(path, json=body, timeout=60)
    assert response.status_code == 200, response.text
    return time.perf_counter() - start


@pytest.mark.timing
def test_clients_that_hang_up_get_no_work_done(server: tuple[str, int]) -> None:
    url, _ = server
    with httpx.Client(base_url=url) as client:
        _timed_post(client, "/api/v1/attention", {"model": "minilm", "text": "warm up"})
        before = _abandoned(client)
        for seed in range(20):
            _send_and_hang_up(
                url, "/api/v1/attention", {"model": "minilm", "text": _long_text(seed)}
            )
        _wait_until_noticed(client, before, 20)
        short = {"model": "minilm", "text": "the next user asks about thirty tokens " * 3}
        waited = _timed_post(client, "/api/v1/attention", {**short, "encoding": "uint8"})
        assert waited < 1.0, f"the next user waited {waited:.2f} s"
        computed = 0
        for seed in range(20):  # a run that was computed is in the cache now
            response = client.post(
                "/api/v1/attention",
                json={
                    "model": "minilm",
                    "text": _long_text(seed),
                    "layers": [0],
                    "heads": [0],
                    "encoding": "uint8",
                },
                timeout=60,
            )
            computed += response.headers["X-Cache"] == "hit"
        assert computed <= 2, f"{computed} of the 20 abandoned texts were computed"


@pytest.mark.timing
def test_abandoned_lessons_do_not_hold_up_the_next_request(server: tuple[str, int]) -> None:
    url, _ = server
    lesson = {"kind": "parametric", "n_train": 500, "epochs": 100}
    with httpx.Client(base_url=url) as client:
        alone = _timed_post(client, "/api/v1/kernel-regression", lesson)  # a valid request
        before = _abandoned(client)
        for _ in range(170):
            _send_and_hang_up(url, "/api/v1/kernel-regression", lesson)
        _wait_until_noticed(client, before, 170)
        waited = _timed_post(client, "/api/v1/attention", {"model": "minilm", "text": "and now?"})
    assert waited < 2.0, f"the next request waited {waited:.2f} s (one lesson: {alone:.2f} s)"


@pytest.mark.timing
def test_heavy_json_in_parallel_is_refused_and_healthz_stays_quick(
    server: tuple[str, int],
) -> None:
    url, pid = server
    peak = rss_bytes(pid)
    health: list[float] = []
    done = threading.Event()

    def watch() -> None:
        with httpx.Client(base_url=url) as client:
            while not done.is_set():
                start = time.perf_counter()
                client.get("/healthz", timeout=10)
                health.append(time.perf_counter() - start)
                time.sleep(0.05)

    def heavy(seed: int) -> tuple[int, str, float]:
        start = time.perf_counter()
        with httpx.Client(base_url=url) as client:
            response = client.post(
                "/api/v1/attention",
                json={"model": "minilm", "text": _long_text(100 + seed % 2)},
                timeout=120,
            )
        return response.status_code, response.text, time.perf_counter() - start

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        with ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(heavy, seed) for seed in range(8)]
            while not all(f.done() for f in futures):
                peak = max(peak, rss_bytes(pid))
                time.sleep(0.05)
            results = [f.result() for f in futures]
    finally:
        done.set()
        watcher.join(timeout=15)
    for status, text, seconds in results:
        assert status == 422, text
        assert "encoding 'uint8'" in json.loads(text)["detail"]
        assert seconds < 10
    assert max(health) < 0.2, f"/healthz took {max(health):.3f} s"
    assert peak < 2 * 1024**3, f"peak RSS {peak / 2**20:.0f} MiB"
