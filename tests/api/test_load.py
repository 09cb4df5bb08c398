"""A bounded load test on loopback: 16 concurrent clients, 400 requests, no errors, and the
server's memory stays bounded (its run cache is capped in bytes)."""

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.conftest import rss_bytes, server_process

CLIENTS = 16
REQUESTS = 400
CACHE_BYTES = 32 * 1024 * 1024
# Allowance above the warmed-up server's memory: the 32 MB cache plus allocator slack.
MAX_GROWTH_BYTES = 250 * 1024 * 1024

WORDS = "the quick brown fox jumps over a lazy dog while seven cats watch from the old wall".split()


def _sentence(i: int) -> str:
    # 60 distinct sentences of 8-20 words: a mix of cache misses and hits, as real traffic.
    n = 8 + i % 13
    return " ".join(WORDS[(i + j) % len(WORDS)] for j in range(n)) + f" number {i % 60}"


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, int]]:
    env = {
        "ATTN_ENABLED_MODELS": '["minilm"]',
        "ATTN_CACHE_BYTES": str(CACHE_BYTES),
        "ATTN_RATE_LIMIT": "",  # 400 requests from one address: the load, not the limit
    }
    with server_process(env) as running:
        yield running


def test_sixteen_clients_four_hundred_requests_no_errors_bounded_memory(
    server: tuple[str, int],
) -> None:
    url, pid = server
    with httpx.Client(timeout=60) as warm:
        for i in range(5):
            warm.post(f"{url}/api/v1/attention", json={"model": "minilm", "text": _sentence(i)})
    baseline = rss_bytes(pid)
    peak = baseline

    def one_client(client_index: int) -> list[int]:
        statuses = []
        with httpx.Client(timeout=120) as client:
            for k in range(REQUESTS // CLIENTS):
                i = client_index * 7 + k * 3
                body = {
                    "model": "minilm",
                    "text": _sentence(i),
                    "encoding": ("json", "uint8", "float16")[k % 3],
                }
                if k % 4 == 0:
                    body["layers"] = [k % 6]
                statuses.append(client.post(f"{url}/api/v1/attention", json=body).status_code)
        return statuses

    with ThreadPoolExecutor(CLIENTS) as pool:
        futures = [pool.submit(one_client, c) for c in range(CLIENTS)]
        while not all(f.done() for f in futures):
            peak = max(peak, rss_bytes(pid))
            time.sleep(0.05)
        statuses = [s for f in futures for s in f.result()]

    assert len(statuses) == REQUESTS
    assert statuses.count(200) == REQUESTS, {s: statuses.count(s) for s in set(statuses)}
    print(f"rss baseline {baseline / 2**20:.0f} MiB, peak {peak / 2**20:.0f} MiB")
    assert peak - baseline <= MAX_GROWTH_BYTES, (baseline, peak)
    assert httpx.get(f"{url}/healthz").status_code == 200
