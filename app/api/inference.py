"""Runs models off the event loop, a bounded number at a time; the rest wait their turn."""

from collections.abc import Callable
from typing import TypeVar

import anyio
import anyio.to_thread

T = TypeVar("T")


class ServerBusyError(RuntimeError):
    """The queue did not move within the timeout: the caller should retry later."""


class InferenceGate:
    def __init__(self, concurrency: int, queue_timeout_s: float) -> None:
        self.concurrency = concurrency
        self.queue_timeout_s = queue_timeout_s
        self._slots: anyio.Semaphore | None = None

    @property
    def slots(self) -> anyio.Semaphore:
        # Created on first use, inside the running event loop.
        if self._slots is None:
            self._slots = anyio.Semaphore(self.concurrency)
        return self._slots

    async def run(self, work: Callable[[], T]) -> T:
        """Wait (without holding a thread) for a free slot, then run `work` in a worker thread."""
        try:
            with anyio.fail_after(self.queue_timeout_s):
                await self.slots.acquire()
        except TimeoutError:
            raise ServerBusyError(
                f"the server is busy: no model slot freed up within {self.queue_timeout_s:g} s; "
                "retry in a moment"
            ) from None
        try:
            return await anyio.to_thread.run_sync(work)
        finally:
            self.slots.release()
