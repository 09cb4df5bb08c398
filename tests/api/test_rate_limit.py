"""The per-client rate limit: a client over it gets a 429 that states the limit with
Retry-After; other clients, pages and /metrics are unaffected; X-Forwarded-For counts only
from a trusted proxy."""

import threading
import time
from collections.abc import Iterator

import anyio
import pytest
from fastapi.testclient import TestClient
from limits import RateLimitItem
from limits.errors import StorageError
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from pydantic import ValidationError

from app.api.rate_limit import ClientRateLimiter, client_address, client_key, computes
from app.api.redis_backoff import RedisBackoff
from app.main import create_app
from app.settings import Settings

PROXY = ("10.0.0.2", 50000)
LIMIT = 3


@pytest.fixture(scope="module")
def limited_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "enabled_models": [],
            "rate_limit": f"{LIMIT}/minute",
            "trusted_proxies": Settings(trusted_proxies=["10.0.0.0/24"]).trusted_proxies,
        }
    )


@pytest.fixture
def app_clients(limited_settings: Settings) -> Iterator[tuple[TestClient, TestClient]]:
    """Two clients of one fresh app: a direct one, and one behind the trusted proxy."""
    app = create_app(limited_settings)
    with TestClient(app) as direct, TestClient(app, client=PROXY) as proxied:
        yield direct, proxied


def _scoring(client: TestClient, **headers: str) -> int:
    return client.post("/api/v1/scoring", json={}, headers=headers).status_code


def test_over_the_limit_a_429_says_the_limit_and_when_to_retry(
    app_clients: tuple[TestClient, TestClient],
) -> None:
    direct, _ = app_clients
    assert [_scoring(direct) for _ in range(LIMIT)] == [200] * LIMIT
    refused = direct.post("/api/v1/scoring", json={})
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    detail = refused.json()["detail"]
    assert "3 per 1 minute" in detail and f"retry in {refused.headers['retry-after']} s" in detail
    assert refused.headers["x-content-type-options"] == "nosniff"  # the usual headers too
    # Every computing route shares the client's window.
    assert direct.post("/api/v1/attention", json={}).status_code == 429
    assert direct.get("/api/v1/report").status_code == 429
    assert direct.post("/api/v1/no-such-route", json={}).status_code == 429


def test_pages_static_files_health_and_metrics_are_not_limited(
    app_clients: tuple[TestClient, TestClient],
) -> None:
    direct, _ = app_clients
    for _ in range(LIMIT + 1):
        _scoring(direct)
    for path in ("/", "/lessons/scoring", "/static/js/api.js", "/healthz", "/metrics"):
        assert direct.get(path).status_code == 200, path
    assert direct.get("/api/v1/models").status_code == 200


def test_clients_behind_a_trusted_proxy_are_told_apart(
    app_clients: tuple[TestClient, TestClient],
) -> None:
    direct, proxied = app_clients
    alice = {"X-Forwarded-For": "203.0.113.7"}
    bob = {"X-Forwarded-For": "198.51.100.9"}
    assert [_scoring(proxied, **alice) for _ in range(LIMIT + 1)] == [200] * LIMIT + [429]
    assert _scoring(proxied, **bob) == 200
    assert _scoring(direct) == 200  # another address, another window
    # Alice cannot get a fresh window by writing another address on the left: the proxy
    # appends the one it saw.
    assert _scoring(proxied, **{"X-Forwarded-For": "192.0.2.1, 203.0.113.7"}) == 429


def test_x_forwarded_for_from_an_untrusted_peer_is_ignored(
    app_clients: tuple[TestClient, TestClient],
) -> None:
    direct, _ = app_clients
    statuses = [_scoring(direct, **{"X-Forwarded-For": f"203.0.113.{n}"}) for n in range(LIMIT + 1)]
    assert statuses == [200] * LIMIT + [429]


def test_an_empty_or_zero_limit_turns_it_off(limited_settings: Settings) -> None:
    for off in ("", "0"):
        settings = limited_settings.model_copy(
            update={"rate_limit": Settings(rate_limit=off).rate_limit}
        )
        with TestClient(create_app(settings)) as client:
            assert {_scoring(client) for _ in range(LIMIT + 2)} == {200}


def test_a_limit_that_is_not_a_rate_stops_the_server_at_start() -> None:
    with pytest.raises(ValidationError, match="is not a rate"):
        Settings(rate_limit="lots")


def test_the_429_is_counted_in_the_metrics(app_clients: tuple[TestClient, TestClient]) -> None:
    direct, _ = app_clients
    for _ in range(LIMIT + 2):
        _scoring(direct)
    metrics = direct.get("/metrics").text
    assert 'attn_requests_rejected_total{reason="rate_limited"} 2.0' in metrics
    assert 'handler="/api/v1/scoring",method="POST",status="429"} 2.0' in metrics


def test_which_requests_are_limited() -> None:
    def limited(method: str, path: str, root_path: str = "") -> bool:
        return computes({"method": method, "path": path, "root_path": root_path})

    assert limited("POST", "/api/v1/align")
    assert limited("POST", "/api/v1/kernel-regression")
    assert limited("GET", "/api/v1/report")
    assert limited("GET", "/api/v1/models/minilm/heads")
    assert limited("POST", "/attention-visualizer/api/v1/attention", "/attention-visualizer")
    assert not limited("GET", "/api/v1/models")
    assert not limited("POST", "/metrics")
    assert not limited("GET", "/lessons/scoring")


def _scope(peer: str, forwarded: list[str]) -> dict:
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded]
    return {"type": "http", "client": (peer, 1234), "headers": headers}


def test_the_client_address_walks_trusted_hops_from_the_right() -> None:
    proxies = Settings(trusted_proxies=["10.0.0.0/8", "2001:db8:ffff::1"]).trusted_proxies
    assert client_address(_scope("10.1.1.1", ["1.2.3.4, 10.0.0.5"]), proxies) == "1.2.3.4"
    # Two header lines are one list; a port or brackets are tolerated.
    assert client_address(_scope("10.1.1.1", ["9.9.9.9", "[2001:db8::7]:443"]), proxies) == (
        "2001:db8::7"
    )
    assert client_address(_scope("2001:db8:ffff::1", ["5.6.7.8:80"]), proxies) == "5.6.7.8"
    # Garbage stops the walk at the last hop a trusted proxy vouched for.
    assert client_address(_scope("10.1.1.1", ["1.2.3.4, not-an-ip"]), proxies) == "10.1.1.1"
    assert client_address(_scope("192.0.2.1", ["1.2.3.4"]), proxies) == "192.0.2.1"
    assert client_address(_scope("10.1.1.1", []), proxies) == "10.1.1.1"
    assert client_address({"type": "http", "headers": []}, proxies) == "unknown"


def test_an_ipv6_client_is_keyed_by_its_64() -> None:
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:bbbb::9")
    assert client_key("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    assert client_key("203.0.113.7") == "203.0.113.7"


def _limiter_scope() -> dict:
    return {"type": "http", "client": ("192.0.2.1", 1), "headers": []}


def _remote_limiter(rate: str, retry_s: float = 60) -> ClientRateLimiter:
    """A limiter whose network store is a Redis nobody runs; tests replace its questions."""
    backoff = RedisBackoff("redis://127.0.0.1:1/0", retry_s=retry_s)
    return ClientRateLimiter(rate, "redis://127.0.0.1:1/0", [], timeout_s=0.2, backoff=backoff)


def test_a_network_store_is_asked_off_the_event_loop_with_the_same_answers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    limiter = _remote_limiter("2/minute")
    assert limiter.remote is not None
    memory = MovingWindowRateLimiter(MemoryStorage())
    threads: set[int] = set()

    def hit(item: RateLimitItem, key: str) -> bool:
        threads.add(threading.get_ident())
        return memory.hit(item, key)

    monkeypatch.setattr(limiter.remote, "hit", hit)
    monkeypatch.setattr(limiter.remote, "get_window_stats", memory.get_window_stats)
    answers = [anyio.run(limiter.refusal, _limiter_scope()) for _ in range(3)]
    assert answers[:2] == [None, None]
    assert answers[2] is not None and answers[2].status_code == 429
    assert threading.get_ident() not in threads and len(threads) >= 1


def test_a_failing_store_falls_back_to_a_local_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 19 changed this: a store that fails no longer lets every request through; the
    same limit is counted in this process until the store answers again."""
    limiter = _remote_limiter("1/minute", retry_s=0.05)
    assert limiter.remote is not None and limiter.backoff is not None
    asked: list[str] = []

    def broken(*_: object) -> bool:
        asked.append("broken")
        raise StorageError(ConnectionError("the store is down"))

    monkeypatch.setattr(limiter.remote, "hit", broken)
    answers = [anyio.run(limiter.refusal, _limiter_scope()) for _ in range(3)]
    assert answers[0] is None
    assert [a.status_code for a in answers[1:] if a is not None] == [429, 429]
    assert asked == ["broken"]  # asked once, then left alone for the window
    assert limiter.backoff.down

    time.sleep(0.06)  # the window has passed: one request asks again, and it answers
    monkeypatch.setattr(limiter.remote, "hit", lambda *_: True)
    assert anyio.run(limiter.refusal, _limiter_scope()) is None
    assert not limiter.backoff.down
