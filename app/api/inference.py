"""Runs models off the event loop, a bounded number at a time; the rest wait their turn.

All torch work happens on the gate's own threads, models loading included. PyTorch's
OpenMP pool belongs to the thread that calls it: each further calling thread brings its
own pool, and once the pools hold more threads than there are cores, OpenMP stops
spinning between parallel regions and every region pays a wake-up. On 2 cores that made
a 30-token MiniLM run about 35% slower when it ran on a different thread than the load.

A run of many steps (a streamed generation) holds one slot from its first step to its
last and runs each step on a gate thread in turn, so between steps the stream can send
what it has and notice that its client left; leaving the slot frees it for the next in
line. The gate has as many threads as slots, so work never outnumbers the cores it was
sized for, even when a holder is cancelled while its step still runs.
"""

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import TypeVar

import anyio

from app.zoo.cancel import cancellable

T = TypeVar("T")


class ServerBusyError(RuntimeError):
    """The queue did not move within the timeout: the caller should retry later."""


class HeldSlot:
    """One slot of the gate, held: its holder runs its steps on the gate's threads."""

    def __init__(self, threads: ThreadPoolExecutor) -> None:
        self._threads = threads

    async def run(self, work: Callable[[], T]) -> T:
        """Run one step on a gate thread. If the holder is cancelled meanwhile (its client
        left), the step stops at the model's next layer (app/zoo/cancel.py) or, for work
        that does not check, finishes on its thread and its result is dropped; the next
        holder's work waits for that thread."""
        cancelled = threading.Event()

        def marked() -> T:
            with cancellable(cancelled):
                return work()

        try:
            return await asyncio.get_running_loop().run_in_executor(self._threads, marked)
        except asyncio.CancelledError:
            cancelled.set()
            raise


class InferenceGate:
    def __init__(self, concurrency: int, queue_timeout_s: float) -> None:
        self.concurrency = concurrency
        self.queue_timeout_s = queue_timeout_s
        self._slots: anyio.Semaphore | None = None
        self._threads: ThreadPoolExecutor | None = None

    @property
    def slots(self) -> anyio.Semaphore:
        # Created on first use, inside the running event loop.
        if self._slots is None:
            self._slots = anyio.Semaphore(self.concurrency)
        return self._slots

    @property
    def threads(self) -> ThreadPoolExecutor:
        # Created on first use; an app that starts again after close() gets new threads.
        if self._threads is None:
            self._threads = ThreadPoolExecutor(self.concurrency, thread_name_prefix="inference")
        return self._threads

    @asynccontextmanager
    async def holding(self) -> AsyncIterator[HeldSlot]:
        """Wait (without holding a thread) for a free slot and hold it until the block ends,
        also when it ends by cancellation (a client that went away)."""
        try:
            with anyio.fail_after(self.queue_timeout_s):
                await self.slots.acquire()
        except TimeoutError:
            raise ServerBusyError(
                f"the server is busy: no model slot freed up within {self.queue_timeout_s:g} s; "
                "retry in a moment"
            ) from None
        try:
            yield HeldSlot(self.threads)
        finally:
            self.slots.release()

    async def run(self, work: Callable[[], T]) -> T:
        """Wait (without holding a thread) for a free slot, then run `work` on a gate thread."""
        async with self.holding() as slot:
            return await slot.run(work)

    def close(self) -> None:
        if self._threads is not None:
            self._threads.shutdown(wait=False, cancel_futures=True)
            self._threads = None
