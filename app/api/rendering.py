"""Encoding a response is CPU work too, bounded like model runs, and its bytes are kept.

A 512-token MiniLM run is 19 million weights: rendering it takes a second or more and
hundreds of MB. Cache hits skip the inference gate, so without a bound eight of them at
once took every core and 3.5 GB, and /healthz waited 11 s. Renders now take a slot of
their own gate (its own slots, so a hit never waits behind a long forward pass), and the
bytes of recent responses are kept: the same request again is served as stored. Small
responses skip the gate (INLINE_RENDER_WEIGHTS in app/api/routes/attention.py): encoding
them costs less than the hop to a thread and back.
"""

from collections.abc import Callable, Hashable

import anyio
import anyio.to_thread

from app.api.inference import ServerBusyError
from app.attention.cache import BoundedLRU, key_bytes


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


class ResponseCache(BoundedLRU[bytes]):
    """Rendered response bodies; one body may take at most a quarter of the budget."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(max_bytes, largest_entry=max_bytes // 4)

    def put(self, key: Hashable, body: bytes) -> None:
        self.put_sized(key, body, len(body) + key_bytes(key))


class Renderer:
    """The render gate and the response cache, shared by the routes that encode runs."""

    def __init__(self, concurrency: int, queue_timeout_s: float, cache_bytes: int) -> None:
        self.gate = RenderGate(concurrency, queue_timeout_s)
        self.cache = ResponseCache(cache_bytes)
