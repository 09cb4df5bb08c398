"""The run cache's shared tier (ATTN_REDIS_URL), with an in-memory stand-in for Redis: two
apps sharing one behave as two replicas behind the proxy. The real redis-server is exercised
by tests/cluster/."""

import logging
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.api.redis_backoff import RedisBackoff
from app.api.shared_cache import SharedRunCache
from app.main import create_app
from app.settings import Settings
from tests.conftest import TEST_LIMITS, free_port


class FakeRedis:
    """GET and SET with EX, the two commands the shared cache sends."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}
        self.ttls: dict[str, int] = {}

    def get(self, key: str) -> bytes | None:
        return self.data.get(key)

    def set(self, key: str, value: bytes, ex: int) -> None:
        self.data[key] = value
        self.ttls[key] = ex

    def close(self) -> None:
        pass


def _fake_shared_cache(redis: FakeRedis, max_entry_bytes: int) -> SharedRunCache:
    backoff = RedisBackoff("redis://fake", retry_s=10)
    return SharedRunCache(
        "redis://fake",
        ttl_s=60,
        max_entry_bytes=max_entry_bytes,
        timeout_s=1,
        backoff=backoff,
        client=redis,
    )


def _replica_settings(tiny_models: dict[str, Path], name: str, **extra: object) -> Settings:
    return Settings(
        hf_models={
            "tiny-encoder": tiny_models["bert"],
            "tiny-seq2seq": tiny_models["bart"],
            "tiny-llama": tiny_models["llama"],  # its runs are computed, as SmolLM2's
        },
        enabled_models=[],  # the tiny models only: quick to load, twice
        **{**TEST_LIMITS, "replica_name": name, "redis_url": "redis://fake", **extra},  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def replicas(tiny_models: dict[str, Path]) -> Iterator[tuple[TestClient, TestClient, FakeRedis]]:
    redis = FakeRedis()
    with ExitStack() as stack:
        clients = []
        for name in ("a", "b"):
            app = create_app(_replica_settings(tiny_models, name))
            app.state.shared_cache = _fake_shared_cache(redis, max_entry_bytes=10**6)
            clients.append(stack.enter_context(TestClient(app)))
        yield clients[0], clients[1], redis


def _attention(client: TestClient, text: str, model: str = "tiny-encoder", **extra: object):
    return client.post("/api/v1/attention", json={"model": model, "text": text, **extra})


def test_a_run_computed_on_one_replica_is_a_hit_on_the_other(replicas) -> None:
    a, b, redis = replicas
    first = _attention(a, "the cat sat on the mat")
    second = _attention(b, "the cat sat on the mat")
    assert first.status_code == second.status_code == 200
    assert (first.headers["x-replica"], second.headers["x-replica"]) == ("a", "b")
    assert first.headers["x-cache"] == "miss" and "x-cache-tier" not in first.headers
    assert (second.headers["x-cache"], second.headers["x-cache-tier"]) == ("hit", "shared")
    assert second.content == first.content
    assert set(redis.ttls.values()) == {60}
    third = _attention(b, "the cat sat on the mat", encoding="uint8")  # now in b's own tier
    assert (third.headers["x-cache"], third.headers["x-cache-tier"]) == ("hit", "local")


def test_a_translation_with_cross_attention_is_shared_too(replicas) -> None:
    a, b, _ = replicas
    first = _attention(a, "i love apples", model="tiny-seq2seq")
    second = _attention(b, "i love apples", model="tiny-seq2seq")
    assert (first.headers["x-cache"], second.headers["x-cache-tier"]) == ("miss", "shared")
    assert second.json() == first.json()


def test_a_computed_run_is_shared_with_its_blocks_computed(replicas) -> None:
    """A Llama decoder's runs compute their blocks when read (as SmolLM2's): the replica that
    ran it computes them all and shares them; the other serves them as held arrays."""
    a, b, _ = replicas
    run_a = _attention(a, "i love", model="tiny-llama", max_new_tokens=4)
    run_b = _attention(b, "i love", model="tiny-llama", max_new_tokens=4)
    assert (run_a.headers["x-cache"], run_b.headers["x-cache-tier"]) == ("miss", "shared")
    assert run_b.json() == run_a.json()
    reading = a.app.state.registry.get("tiny-llama").reading_key("i love")  # the token ids
    key = ("tiny-llama", None, reading, None, 4)
    assert a.app.state.cache.get(key).computed  # the computing replica keeps it computed
    assert not b.app.state.cache.get(key).computed


def test_keys_hold_the_request_and_the_weight_files(replicas, tmp_path: Path) -> None:
    a, _, _ = replicas
    shared: SharedRunCache = a.app.state.shared_cache
    adapter = a.app.state.registry.get("tiny-encoder")
    key = ("tiny-encoder", None, "hello", None, None)
    assert shared.key(adapter, key) == shared.key(adapter, key)
    assert shared.key(adapter, key) != shared.key(adapter, (*key[:2], "hello!", *key[3:]))
    assert shared.key(adapter, key).startswith("attn:run:v1:tiny-encoder:")
    # Another replica whose weights differ (here: another modification time) never shares.
    other = _fake_shared_cache(FakeRedis(), max_entry_bytes=10**6)
    copied = tmp_path / "weights"
    copied.write_bytes(b"x")
    original = adapter.weight_files
    try:
        adapter.weight_files = (*original[:-1], copied)
        assert other.key(adapter, key) != shared.key(adapter, key)
    finally:
        adapter.weight_files = original


def test_runs_larger_than_the_entry_limit_stay_local(tiny_models: dict[str, Path]) -> None:
    redis = FakeRedis()
    app = create_app(_replica_settings(tiny_models, "small"))
    app.state.shared_cache = _fake_shared_cache(redis, max_entry_bytes=100)
    with TestClient(app) as client:
        assert _attention(client, "hello world").status_code == 200
        assert _attention(client, "hello world", model="tiny-llama").status_code == 200
    assert redis.data == {}


def test_a_redis_that_is_down_fails_no_request(
    tiny_models: dict[str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    """Nothing listens on the port: every request is answered, computed locally, the failure
    is logged once, and Redis is not asked again on every request."""
    settings = _replica_settings(
        tiny_models, "alone", redis_url=f"redis://127.0.0.1:{free_port()}/0", redis_timeout_s=0.5
    )
    with (
        caplog.at_level(logging.WARNING, logger="app.api.shared_cache"),
        TestClient(create_app(settings)) as client,
    ):
        answers = [
            _attention(client, text) for text in ("hello world", "we eat bread", "hello world")
        ]
        shared: SharedRunCache = client.app.state.shared_cache  # type: ignore[attr-defined]
    assert [r.status_code for r in answers] == [200, 200, 200]
    assert [r.headers["x-cache"] for r in answers] == ["miss", "miss", "hit"]
    assert answers[2].headers["x-cache-tier"] == "local"
    assert shared.failures == 1  # the first lookup failed; then Redis was left alone
    warnings = [r for r in caplog.records if "shared cache" in r.getMessage()]
    assert len(warnings) == 1 and "127.0.0.1" in warnings[0].getMessage()


def test_without_a_redis_url_there_is_no_shared_tier(client: TestClient) -> None:
    assert client.app.state.shared_cache is None  # type: ignore[attr-defined]
    answer = client.get("/healthz")
    assert answer.headers["x-replica"]  # host:pid when no name is set
