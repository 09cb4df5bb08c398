import numpy as np

from app.attention.cache import RunCache, key_bytes
from app.attention.names import encoder_self_attention
from app.attention.run import AttentionRun, TokenList


def _run(n: int) -> AttentionRun:
    source = TokenList.build(["a"] * n, list(range(n)), [False] * n)
    blocks = {encoder_self_attention(0): np.zeros((1, n, n), dtype=np.float32)}
    return AttentionRun(blocks, source=source)


def run_size(run: AttentionRun, key: str = "first") -> int:
    return run.size_bytes + key_bytes(key)  # the key counts too


def test_least_recently_used_run_is_evicted_when_bytes_run_out() -> None:
    size = run_size(_run(10), "first")  # the three keys have the same length
    cache = RunCache(max_bytes=2 * size)
    cache.put("first", _run(10))
    cache.put("secnd", _run(10))
    assert cache.get("first") is not None  # now "secnd" is the least recently used
    cache.put("third", _run(10))
    assert cache.get("secnd") is None
    assert cache.get("first") is not None and cache.get("third") is not None
    assert cache.size_bytes <= 2 * size
    assert len(cache) == 2


def test_a_run_bigger_than_the_cache_is_not_kept() -> None:
    cache = RunCache(max_bytes=100)
    cache.put("big", _run(50))
    assert cache.get("big") is None
    assert cache.size_bytes == 0


def test_zero_bytes_turns_the_cache_off() -> None:
    cache = RunCache(max_bytes=0)
    cache.put("x", _run(2))
    assert cache.get("x") is None
