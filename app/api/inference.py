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

The gate counts who waits and who runs (read at scrape time by app/api/metrics.py) and tells
an optional observer how long each holder waited and how long each model run took.
"""

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Protocol, TypeVar

import anyio

from app.zoo.cancel import cancellable

T = TypeVar("T")


class ServerBusyError(RuntimeError):
    """The queue did not move within the timeout: the caller should retry later."""


class GateObserver(Protocol):
    def queue_waited(self, seconds: float) -> None:
        """A holder got its slot after waiting `seconds` in the queue."""

    def model_ran(self, model: str, seconds: float) -> None:
        """A run of `model` took `seconds` on a gate thread (queue wait not included)."""


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
    def __init__(
        self, concurrency: int, queue_timeout_s: float, observer: GateObserver | None = None
    ) -> None:
        self.concurrency = concurrency
        self.queue_timeout_s = queue_timeout_s
        self.observer = observer
        # Changed only on the event loop: plain ints need no lock.
        self.waiting = 0  # holders queued for a slot
        self.running = 0  # slots held
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
        queued = time.perf_counter()
        self.waiting += 1
        try:
            with anyio.fail_after(self.queue_timeout_s):
                await self.slots.acquire()
        except TimeoutError:
            raise ServerBusyError(
                f"the server is busy: no model slot freed up within {self.queue_timeout_s:g} s; "
                "retry in a moment"
            ) from None
        finally:
            self.waiting -= 1
        if self.observer is not None:
            self.observer.queue_waited(time.perf_counter() - queued)
        self.running += 1
        try:
            yield HeldSlot(self.threads)
        finally:
            self.running -= 1
            self.slots.release()

    async def run(self, work: Callable[[], T]) -> T:
        """Wait (without holding a thread) for a free slot, then run `work` on a gate thread."""
        async with self.holding() as slot:
            return await slot.run(work)

    def timed_run(self, model: str, work: Callable[[], T]) -> T:
        """Call `work` on this thread (a gate thread) and tell the observer how long `model`
        ran. Called inside the gate's work, around the model run alone, so a cache hit found
        after queueing or the encoding of the response does not count as run time; a run that
        fails or is cancelled for a client gone is not counted (it did not run to its end)."""
        started = time.perf_counter()
        result = work()
        if self.observer is not None:
            self.observer.model_ran(model, time.perf_counter() - started)
        return result

    def close(self) -> None:
        if self._threads is not None:
            self._threads.shutdown(wait=False, cancel_futures=True)
            self._threads = None
