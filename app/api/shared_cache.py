"""The run cache's second tier: a Redis that every replica reads and writes.

The local LRU (app/attention/cache.py) stays the first tier. On a local miss a request looks
here; a run computed anywhere is written to both, so a replica behind the proxy answers a
text another replica already ran without a forward pass. Runs travel in app/attention's own
format (run_codec.py: a JSON header and raw float32 bytes), never pickled: a shared Redis
must not be able to run code in the app.

Keys hold what the local key holds (model id, variant, text, target, generation budget) and
the identity of the weights the model was loaded from (each file's path, size and
modification time, taken at the first lookup), so two replicas with different weights never
share a run.

Redis is an optimisation, never a dependency: an unreachable, slow or full Redis makes a
lookup a miss and a write a no-op. Each question waits at most ATTN_REDIS_TIMEOUT_S, and after
a failure Redis is left alone for ATTN_REDIS_RETRY_S (app/api/redis_backoff.py, shared with
the rate limit), so a dead or hung Redis costs one timeout per window, not one per request.
These methods block: call them off the event loop.
"""

import hashlib
import json
import logging
from collections.abc import Hashable
from typing import Any

import redis

from app.api.redis_backoff import RedisBackoff, client_options
from app.attention.run import AttentionRun
from app.attention.run_codec import CodecError, decode_run, encode_run
from app.zoo.base import ModelAdapter, file_stamp

log = logging.getLogger(__name__)

KEY_PREFIX = "attn:run:v1"  # bump with the codec's format or the key's contents


class SharedRunCache:
    def __init__(
        self,
        url: str,
        *,
        ttl_s: int,
        max_entry_bytes: int,
        timeout_s: float,
        backoff: RedisBackoff,
        client: Any = None,
    ) -> None:
        self.ttl_s = ttl_s
        self.max_entry_bytes = max_entry_bytes
        self._client = client or redis.Redis.from_url(url, **client_options(timeout_s))
        self.backoff = backoff
        backoff.used_by("the shared cache is skipped and runs are computed here")
        self._stamps: dict[str, list[Any]] = {}
        self.hits = 0
        self.misses = 0
        self.writes = 0
        self.failures = 0

    def key(self, adapter: ModelAdapter, content: Hashable) -> str:
        """The Redis key of the local cache key `content` for this adapter's weights."""
        model_id = adapter.info.id
        stamps = self._stamps.get(model_id)
        if stamps is None:
            stamps = [file_stamp(path) for path in adapter.weight_files]
            self._stamps[model_id] = stamps
        described = json.dumps([content, stamps], ensure_ascii=False)
        digest = hashlib.sha256(described.encode()).hexdigest()
        return f"{KEY_PREFIX}:{model_id}:{digest}"

    def get(self, adapter: ModelAdapter, content: Hashable) -> AttentionRun | None:
        if not self.backoff.should_ask():
            return None
        key = self.key(adapter, content)
        try:
            data = self._client.get(key)
        except (redis.RedisError, OSError) as error:
            self._failed(error)
            return None
        self.backoff.worked()
        if data is None:
            self.misses += 1
            return None
        try:
            if not isinstance(data, bytes):
                raise CodecError(f"Redis returned {type(data).__name__}, not bytes")
            run = decode_run(data)
        except CodecError as error:
            # Another version wrote it, or someone else: compute, and the write replaces it.
            log.warning("shared cache entry %s is unreadable (%s); computing the run", key, error)
            self.misses += 1
            return None
        self.hits += 1
        return run

    def fits(self, run: AttentionRun) -> bool:
        """Whether the run, its blocks held, is small enough to share. A computed run (every
        SmolLM2 run: app/zoo/recompute.py) holds layer inputs, model tensors, to compute its
        blocks from: those are not data to share, so the caller computes its blocks first
        (`AttentionRun.materialized`, on the gate) when they fit. A long context's blocks do
        not (at 2048 tokens, 4.5 GB): such runs stay in the replica that computed them."""
        return run.weights_bytes <= self.max_entry_bytes and not self.backoff.down

    def put(self, adapter: ModelAdapter, content: Hashable, run: AttentionRun) -> None:
        """Writes a run that holds its blocks (not a computed one) if it fits."""
        if run.computed:
            return
        data = encode_run(run)
        if len(data) > self.max_entry_bytes or not self.backoff.should_ask():
            return
        try:
            self._client.set(self.key(adapter, content), data, ex=self.ttl_s)
        except (redis.RedisError, OSError) as error:
            self._failed(error)
            return
        self.backoff.worked()
        self.writes += 1

    def _failed(self, error: Exception) -> None:
        self.failures += 1
        self.backoff.failed(error)

    def close(self) -> None:
        self._client.close()
