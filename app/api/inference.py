"""Runs models off the event loop, a bounded number at a time; the rest wait their turn.

All torch work happens on the gate's own threads, models loading included. Each slot has
its own thread (a lane), and lane 0 is taken first, so a lone run always runs on lane 0.
PyTorch's OpenMP pool belongs to the thread that calls it: each further calling thread
brings its own pool, and once the pools hold more threads than there are cores, OpenMP
stops spinning between parallel regions and every region pays a wake-up. On 2 cores that
made a 30-token MiniLM run about 35% slower when it ran on a different thread than the
load. So only lane 0 runs torch on several threads: all of them when it runs alone, its
share of them when other lanes are busy. The other lanes run torch on one thread each, and
never start a pool. Two lanes of one thread each run 16 MiniLM texts of 20-30 tokens about
15% faster than one lane of two threads (no barrier between the two cores), and a core
taken away by the event loop slows one lane, not both.

A run of many steps (a streamed generation) holds one slot from its first step to its
last and runs each step on its lane's thread in turn, so between steps the stream can send
what it has and notice that its client left; leaving the slot frees it for the next in
line. There are as many lane threads as slots, so work never outnumbers the cores it was
sized for, even when a holder is cancelled while its step still runs (the next holder of
that lane queues behind the step).

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


class _Lane:
    """One slot's thread, and how many threads torch may use on it."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.thread = ThreadPoolExecutor(1, thread_name_prefix=f"inference-{index}")
        self.held = False
        self.torch_threads = 0  # what was last set on this thread (0: never)


class HeldSlot:
    """One slot of the gate, held: its holder runs its steps on its lane's thread."""

    def __init__(self, gate: "InferenceGate", lane: _Lane) -> None:
        self._gate = gate
        self._lane = lane

    async def run(self, work: Callable[[], T]) -> T:
        """Run one step on a gate thread. If the holder is cancelled meanwhile (its client
        left), the step stops at the model's next layer (app/zoo/cancel.py) or, for work
        that does not check, finishes on its thread and its result is dropped; the next
        holder's work waits for that thread."""
        cancelled = threading.Event()

        def marked() -> T:
            self._gate.share_cores(self._lane)
            with cancellable(cancelled):
                return work()

        try:
            return await asyncio.get_running_loop().run_in_executor(self._lane.thread, marked)
        except asyncio.CancelledError:
            cancelled.set()
            raise


class InferenceGate:
    def __init__(
        self,
        concurrency: int,
        queue_timeout_s: float,
        observer: GateObserver | None = None,
        *,
        cores: int = 1,
        set_threads: Callable[[int], None] | None = None,
    ) -> None:
        """`set_threads(n)`, called on a lane's thread, lets torch use n threads there (None:
        the gate leaves torch's threads alone); `cores`: how many lane 0 uses alone."""
        self.concurrency = concurrency
        self.queue_timeout_s = queue_timeout_s
        self.observer = observer
        self.cores = cores
        self._set_threads = set_threads
        # Changed only on the event loop: plain ints need no lock.
        self.waiting = 0  # holders queued for a slot
        self.running = 0  # slots held
        self._slots: anyio.Semaphore | None = None
        self._lanes: list[_Lane] | None = None

    @property
    def slots(self) -> anyio.Semaphore:
        # Created on first use, inside the running event loop.
        if self._slots is None:
            self._slots = anyio.Semaphore(self.concurrency)
        return self._slots

    @property
    def lanes(self) -> list[_Lane]:
        # Created on first use; an app that starts again after close() gets new threads.
        if self._lanes is None:
            self._lanes = [_Lane(i) for i in range(self.concurrency)]
        return self._lanes

    def share_cores(self, lane: _Lane) -> None:
        """On `lane`'s thread, before a step: let torch use lane 0's share of the cores, or
        one thread on any other lane (see the module's docstring)."""
        if self._set_threads is None:
            return
        threads = max(1, self.cores // max(1, self.running)) if lane.index == 0 else 1
        if threads != lane.torch_threads:
            self._set_threads(threads)
            lane.torch_threads = threads

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
        lane = next(lane for lane in self.lanes if not lane.held)  # the semaphore left one
        lane.held = True
        self.running += 1
        try:
            yield HeldSlot(self, lane)
        finally:
            self.running -= 1
            lane.held = False
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
        for lane in self._lanes or []:
            lane.thread.shutdown(wait=False, cancel_futures=True)
        self._lanes = None
