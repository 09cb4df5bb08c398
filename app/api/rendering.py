"""Encoding a response is CPU work too, bounded like model runs, and its bytes are kept.

A 512-token MiniLM run is 19 million weights: rendering it takes a second or more and
hundreds of MB. Cache hits skip the inference gate, so without a bound eight of them at
once took every core and 3.5 GB, and /healthz waited 11 s. Renders now take a slot of
their own gate (its own slots, so a hit never waits behind a long forward pass), and the
bytes of recent responses are kept: the same request again is served as stored.
"""

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

import anyio
import anyio.to_thread

from app.api.inference import ServerBusyError


class RenderGate:
    def __init__(self, concurrency: int, queue_timeout_s: float) -> None:
        self.concurrency = concurrency
        self.queue_timeout_s = queue_timeout_s
        self._limiter: anyio.CapacityLimiter | None = None

    @property
    def limiter(self) -> anyio.CapacityLimiter:
        if self._limiter is None:  # created inside the running event loop
            self._limiter = anyio.CapacityLimiter(self.concurrency)
        return self._limiter

    async def run(self, render: Callable[[], bytes]) -> bytes:
        try:
            with anyio.fail_after(self.queue_timeout_s):
                await self.limiter.acquire()
        except TimeoutError:
            raise ServerBusyError(
                f"the server is busy: no rendering slot freed up within "
                f"{self.queue_timeout_s:g} s; retry in a moment"
            ) from None
        try:
            return await anyio.to_thread.run_sync(render)
        finally:
            self.limiter.release()


class ResponseCache:
    """Rendered response bodies, least recently used first out, bounded in bytes (the keys,
    which hold the request's text, are counted too)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Hashable, tuple[bytes, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0  # read by app/api/metrics.py
        self.misses = 0

    def get(self, key: Hashable) -> bytes | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry[0]

    def put(self, key: Hashable, body: bytes, key_bytes: int) -> None:
        size = len(body) + key_bytes
        if size > self.max_bytes // 4:
            return  # one body may not push out most of the others
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            self._entries[key] = (body, size)
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, (_, evicted) = self._entries.popitem(last=False)
                self._bytes -= evicted

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)


class Renderer:
    """The render gate and the response cache, shared by the routes that encode runs."""

    def __init__(self, concurrency: int, queue_timeout_s: float, cache_bytes: int) -> None:
        self.gate = RenderGate(concurrency, queue_timeout_s)
        self.cache = ResponseCache(cache_bytes)
