"""A Redis that hangs costs one short timeout per window, not one per request, in the rate
limit and the shared cache alike, and the rate limit still limits meanwhile. The hung Redis is
a socket that accepts connections and never answers, as a stopped redis-server does (the real
one, SIGSTOPped under load, is in tests/cluster/)."""

import logging
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from fastapi.testclient import TestClient

from app.api.rate_limit import ClientRateLimiter, RateLimit
from app.api.redis_backoff import RedisBackoff, client_options, where
from app.api.shared_cache import SharedRunCache
from app.main import create_app
from app.settings import Settings
from tests.conftest import TEST_LIMITS

TIMEOUT_S = 0.3


@pytest.fixture
def hung_redis() -> Iterator[str]:
    """A Redis URL whose server takes connections into its backlog and never reads them."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(64)
        yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"


def _scope(peer: str = "192.0.2.1") -> dict:
    return {"type": "http", "client": (peer, 1), "headers": []}


async def _timed_refusals(limiter: ClientRateLimiter, count: int) -> list[tuple[int, float]]:
    timed = []
    for _ in range(count):
        started = time.monotonic()
        answer = await limiter.refusal(_scope())
        timed.append((answer.status_code if answer else 200, time.monotonic() - started))
    return timed


@pytest.mark.timing
def test_a_hung_redis_costs_the_rate_limit_one_timeout_and_the_limit_holds(
    hung_redis: str,
) -> None:
    backoff = RedisBackoff(hung_redis, retry_s=60)
    limiter = ClientRateLimiter("2/minute", hung_redis, [], timeout_s=TIMEOUT_S, backoff=backoff)
    timed = anyio.run(_timed_refusals, limiter, 5)
    # Counted in this process's memory from the first request on: the third is refused.
    assert [status for status, _ in timed] == [200, 200, 429, 429, 429]
    assert TIMEOUT_S <= timed[0][1] < TIMEOUT_S + 0.5
    assert max(seconds for _, seconds in timed[1:]) < 0.05
    assert backoff.failures == 1


@pytest.mark.timing
def test_while_the_limit_waits_for_redis_the_event_loop_serves_others(hung_redis: str) -> None:
    backoff = RedisBackoff(hung_redis, retry_s=60)
    limiter = ClientRateLimiter("5/minute", hung_redis, [], timeout_s=TIMEOUT_S, backoff=backoff)
    ticks = 0

    async def main() -> None:
        async def ticker() -> None:
            nonlocal ticks
            while True:
                await anyio.sleep(0.01)
                ticks += 1

        async with anyio.create_task_group() as group:
            group.start_soon(ticker)
            await limiter.refusal(_scope())
            group.cancel_scope.cancel()

    anyio.run(main)
    assert ticks >= 10  # the loop ran on during the 0.3 s wait


@pytest.mark.timing
def test_the_shared_cache_waits_one_timeout_for_a_hung_redis(
    hung_redis: str, tiny_models: dict[str, Path]
) -> None:
    settings = Settings(
        hf_models={"tiny-encoder": tiny_models["bert"]},
        enabled_models=[],
        redis_url=hung_redis,
        redis_timeout_s=TIMEOUT_S,
        rate_limit_storage=hung_redis,
        **TEST_LIMITS,  # type: ignore[arg-type]
    )
    with TestClient(create_app(settings)) as client:
        timed = []
        for text in ("hello world", "we eat bread", "the cat sat", "hello world"):
            started = time.monotonic()
            answer = client.post("/api/v1/attention", json={"model": "tiny-encoder", "text": text})
            timed.append((answer.status_code, time.monotonic() - started))
        shared: SharedRunCache = client.app.state.shared_cache  # type: ignore[attr-defined]
    assert [status for status, _ in timed] == [200] * 4
    # One timeout in all, the rate limit's: the cache, on the same server, learnt from it.
    assert timed[0][1] >= TIMEOUT_S
    assert max(seconds for _, seconds in timed[1:]) < TIMEOUT_S
    assert shared.backoff.failures == 1 and shared.failures == 0


def test_the_rate_limit_and_the_cache_share_a_back_off_per_server(
    tiny_models: dict[str, Path],
) -> None:
    def backoffs(**urls: str) -> tuple[RedisBackoff, RedisBackoff | None]:
        app = create_app(Settings(enabled_models=[], **urls))  # type: ignore[arg-type]
        limit = next(m for m in app.user_middleware if m.cls is RateLimit)
        limiter: ClientRateLimiter = limit.kwargs["limiter"]
        return app.state.shared_cache.backoff, limiter.backoff

    cache, limit = backoffs(
        redis_url="redis://:secret@127.0.0.1:6390/0", rate_limit_storage="redis://127.0.0.1:6390/1"
    )
    assert cache is limit and cache.where == "redis://127.0.0.1:6390"  # no password in logs
    cache, limit = backoffs(
        redis_url="redis://127.0.0.1:6390/0", rate_limit_storage="redis://127.0.0.1:6391/0"
    )
    assert cache is not limit
    _, limit = backoffs(redis_url="redis://127.0.0.1:6390/0")  # memory:// needs none
    assert limit is None


def test_after_the_window_one_request_asks_and_the_rest_wait_for_its_answer(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    now = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    backoff = RedisBackoff("redis://127.0.0.1:6379/0", retry_s=10)
    backoff.used_by("the cache computes here")
    with caplog.at_level(logging.WARNING, logger="app.api.redis_backoff"):
        assert backoff.should_ask() and backoff.should_ask()  # up: everyone asks
        backoff.failed(TimeoutError("Timeout reading"))
        backoff.failed(TimeoutError("Timeout reading"))  # others in flight: logged once
        assert not backoff.should_ask()
        now[0] += 10
        assert [backoff.should_ask() for _ in range(3)] == [True, False, False]
        backoff.failed(TimeoutError("Timeout reading"))  # the probe failed: another window
        assert not backoff.should_ask()
        now[0] += 10
        assert backoff.should_ask()
        backoff.worked()
        assert backoff.should_ask() and backoff.should_ask() and not backoff.down
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 2
    assert "failed (Timeout reading); until it answers, the cache computes here" in messages[0]
    assert "every 10 s" in messages[0] and "answers again" in messages[1]


def test_redis_clients_wait_briefly_and_never_retry() -> None:
    options = client_options(0.5)
    assert options["socket_timeout"] == options["socket_connect_timeout"] == 0.5
    assert options["retry"].get_retries() == 0
    assert where("rediss://user:pw@cache.internal:6380/2") == "rediss://cache.internal:6380"
