"""Runs models off the event loop, on a bounded number of threads, long work in fair turns
and short work in its gaps.

All torch work happens on the gate's own threads, models loading included. PyTorch's
OpenMP pool belongs to the thread that calls it: each further calling thread brings its
own pool, and once the pools hold more threads than there are cores, OpenMP stops
spinning between parallel regions and every region pays a wake-up. On 2 cores that made
a 30-token MiniLM run about 35% slower when it ran on a different thread than the load.

Every piece of work comes with its cost, estimated before it runs (app/api/costs.py; none:
unknown), and the gate schedules by it:

- Long work (more than ATTN_SHORT_RUN_GFLOP, or of unknown cost) takes one of
  `concurrency` turns, in fair order between clients (app/api/fair_lane.py), and holds it
  from its first step to its last: at most `concurrency` long runs are in progress, which
  bounds the memory they hold.
- Short work does not queue behind long work. It runs at once on a free gate thread, or,
  while a long run's step has the thread, in that step's next gap between layers, on the
  same thread (app/api/short_work.py): a 30-token MiniLM request waits for one part of one
  layer, not for a 2,000-token SmolLM2 run. Short work of one model takes turns among itself
  (`concurrency` at once), so texts that arrive meanwhile batch together (app/api/batching.py).
- Each client's work queued or running is bounded in estimated cost (app/api/client_costs.py).

A run of many steps (a streamed generation) holds its turn from its first step to its last
and runs each step on a gate thread in turn, so between steps the stream can send what it
has and notice that its client left; leaving frees the turn for the next in line. The gate
has as many threads as turns, so work never outnumbers the cores it was sized for, even
when a holder is cancelled while its step still runs.

The gate counts who waits and who runs (read at scrape time by app/api/metrics.py) and tells
an optional observer how long each holder waited and how long each model run took.
"""

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager, suppress
from typing import Protocol, TypeVar

import anyio

from app.api.client_costs import ClientCosts, requesting_client, this_turn
from app.api.costs import Cost
from app.api.fair_lane import FairLane
from app.api.heap import release_freed_memory
from app.api.short_work import ShortJob, ShortWork
from app.zoo.cancel import cancellable
from app.zoo.yielding import stepping_aside, time_aside

T = TypeVar("T")

# The gate's pace before it has measured its own (GFLOP a second, for Retry-After): about
# what long runs reach on this project's 2-core machine.
FIRST_PACE_GFLOP_S = 130.0


class ServerBusyError(RuntimeError):
    """The queue did not move within the timeout: the caller should retry later."""


class GateObserver(Protocol):
    def queue_waited(self, seconds: float) -> None:
        """A holder got its slot after waiting `seconds` in the queue."""

    def model_ran(self, model: str, seconds: float) -> None:
        """A run of `model` took `seconds` on a gate thread (queue wait not included)."""


class HeldSlot:
    """A turn of the gate, held: its holder runs its steps on the gate's threads."""

    def __init__(self, gate: "InferenceGate", short: bool, model: str | None) -> None:
        self._gate = gate
        self._short = short
        self._model = model
        self.seconds = 0.0  # the holder's steps' own time on a thread

    async def run(self, work: Callable[[], T]) -> T:
        """Run one step on a gate thread. If the holder is cancelled meanwhile (its client
        left), the step stops at the model's next layer (app/zoo/cancel.py) or, for work
        that does not check, finishes on its thread and its result is dropped; the next
        holder's work waits for that thread."""
        if self._short:
            return await self._run_short(work)
        return await self._run_long(work)

    async def _run_short(self, work: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        job = ShortJob(work, self._model, loop, loop.create_future())
        self._gate.short_work.add(job)
        self._gate.hand_on_short_work()
        try:
            result: T = await job.done
        except asyncio.CancelledError:
            job.cancelled.set()
            raise
        finally:
            self.seconds += job.seconds
        return result

    async def _run_long(self, work: Callable[[], T]) -> T:
        cancelled = threading.Event()
        short_work, threads = self._gate.short_work, self._gate.threads

        def step() -> T:
            started, aside = time.perf_counter(), time_aside()
            with cancellable(cancelled), stepping_aside(short_work.step_aside_handler()):
                try:
                    return work()
                finally:
                    self.seconds += time.perf_counter() - started - (time_aside() - aside)
                    if short_work.long_step_ended():
                        self._gate.hand_on_short_work()  # what it kept back

        try:
            return await asyncio.get_running_loop().run_in_executor(threads, step)
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
        short_run_gflop: float = 20.0,
        client_cost_gflop: float = 2500.0,
    ) -> None:
        self.concurrency = concurrency
        self.queue_timeout_s = queue_timeout_s
        self.observer = observer
        self.short_run_gflop = short_run_gflop
        self.client_costs = ClientCosts(client_cost_gflop)
        self.pace_gflop_s = FIRST_PACE_GFLOP_S  # measured as runs end
        self.short_work = ShortWork()
        # Changed only on the event loop: plain ints need no lock.
        self.waiting = 0  # holders queued for a turn
        self.running = 0  # turns held
        self.slots = FairLane(concurrency)  # the turns of long work
        self._short_turns: dict[str | None, anyio.Semaphore] = {}
        self._threads: ThreadPoolExecutor | None = None

    @property
    def threads(self) -> ThreadPoolExecutor:
        # Created on first use; an app that starts again after close() gets new threads.
        if self._threads is None:
            self._threads = ThreadPoolExecutor(self.concurrency, thread_name_prefix="inference")
        return self._threads

    def hand_on_short_work(self) -> None:
        """Ask a gate thread to run the short work waiting, as soon as one is free (a long
        step running meanwhile takes it at its next yield point)."""
        with suppress(RuntimeError):  # the gate has closed: the server is stopping
            self.threads.submit(self.short_work.run_waiting)

    def is_short(self, cost: Cost | None) -> bool:
        return cost is not None and cost.gflop <= self.short_run_gflop

    @contextmanager
    def charged(self, cost: Cost | None, client: str | None = None) -> Iterator[None]:
        """Count `cost` to the requesting client (or `client`) until the block ends; raises
        OverBudgetError (a 429) if the client is over its budget (app/api/client_costs.py)."""
        client = requesting_client.get() if client is None else client
        turn = this_turn() if client is not None else None
        with self.client_costs.charged(
            client,
            cost.gflop if cost is not None else 0.0,
            check=turn is not None and not turn.admitted,
            gflop_per_s=self.pace_gflop_s,
        ):
            if turn is not None:
                turn.admitted = True
            yield

    @asynccontextmanager
    async def holding(
        self, cost: Cost | None = None, *, client: str | None = None
    ) -> AsyncIterator[HeldSlot]:
        """Wait (without holding a thread) for a turn and hold it until the block ends, also
        when it ends by cancellation (a client that went away). `cost`: the holder's work,
        estimated (None: unknown, scheduled as long); `client`: who it is for, if not the
        requesting client."""
        client = requesting_client.get() if client is None else client
        short = self.is_short(cost)
        with self.charged(cost, client):
            release = await self._wait_for_turn(cost, client, short)
            self.running += 1
            slot = HeldSlot(self, short, cost.model if cost is not None else None)
            try:
                yield slot
            finally:
                self.running -= 1
                release()
                if not short:
                    self._long_work_ended(cost, slot.seconds)

    def _long_work_ended(self, cost: Cost | None, seconds: float) -> None:
        # What a run of a second or more freed goes back to the system (app/api/heap.py;
        # about 50 ms), on a gate thread: the next work on it waits for that, not the loop.
        if seconds >= 1.0:
            with suppress(RuntimeError):  # the gate has closed: the server is stopping
                self.threads.submit(release_freed_memory)
        # The pace of long work, the backlog that Retry-After describes.
        if cost is not None and seconds > 0.05:
            self.pace_gflop_s = 0.8 * self.pace_gflop_s + 0.2 * cost.gflop / seconds

    async def _wait_for_turn(
        self, cost: Cost | None, client: str | None, short: bool
    ) -> Callable[[], None]:
        """Wait for a short turn of the cost's model, or a long turn in fair order; returns
        what gives it back."""
        queued = time.perf_counter()
        self.waiting += 1
        try:
            with anyio.fail_after(self.queue_timeout_s):
                if short and cost is not None:
                    if cost.model not in self._short_turns:
                        self._short_turns[cost.model] = anyio.Semaphore(self.concurrency)
                    turns = self._short_turns[cost.model]
                    await turns.acquire()
                    release = turns.release
                else:
                    await self.slots.acquire(self._place_in_line(cost, client))
                    release = self.slots.release
        except TimeoutError:
            raise ServerBusyError(
                f"the server is busy: no model slot freed up within {self.queue_timeout_s:g} s; "
                "retry in a moment"
            ) from None
        finally:
            self.waiting -= 1
        if self.observer is not None:
            self.observer.queue_waited(time.perf_counter() - queued)
        return release

    def _place_in_line(self, cost: Cost | None, client: str | None) -> float | None:
        """The long work's tag in the fair line; a request's later work keeps its first."""
        if client is None:
            return None
        turn = this_turn()
        if turn.tag is None:
            # Unknown work counts as the least that long work costs.
            gflop = cost.gflop if cost is not None else self.short_run_gflop
            turn.tag = self.slots.tag(client, gflop)
        return turn.tag

    async def run(
        self, work: Callable[[], T], cost: Cost | None = None, *, client: str | None = None
    ) -> T:
        """Wait (without holding a thread) for a turn, then run `work` on a gate thread."""
        async with self.holding(cost, client=client) as slot:
            return await slot.run(work)

    def timed_run(self, model: str, work: Callable[[], T]) -> T:
        """Call `work` on this thread (a gate thread) and tell the observer how long `model`
        ran. Called inside the gate's work, around the model run alone, so a cache hit found
        after queueing or the encoding of the response does not count as run time, nor does
        short work run in its gaps; a run that fails or is cancelled for a client gone is not
        counted (it did not run to its end)."""
        started, aside = time.perf_counter(), time_aside()
        result = work()
        if self.observer is not None:
            ran = time.perf_counter() - started - (time_aside() - aside)
            self.observer.model_ran(model, ran)
        return result

    def close(self) -> None:
        if self._threads is not None:
            self._threads.shutdown(wait=False, cancel_futures=True)
            self._threads = None
