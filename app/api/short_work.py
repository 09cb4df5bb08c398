"""Short work: run on a free gate thread, or in the gap of a long run on that run's thread.

Short work (estimated at most ATTN_SHORT_RUN_GFLOP) waits in one line here. Each piece is
handed to the gate's threads as it comes, to run at once on a thread that is free; while
every thread is busy with a long run's step, that step takes it instead at its next yield
point (a layer or a part of one, app/zoo/yielding.py), runs it on its own thread, then goes
on. Same thread: no second OpenMP pool (see app/api/inference.py), and the short work waits
at most one part of one layer, not the whole long run. The result goes back to the coroutine
that awaits it on the event loop.

Work for a model that a long run is in the middle of is kept back until that run's step
ends: the model object is mid-run (a decoder's attention kernel is switched and its lock
held; hooks of the run are on its modules), so a run of the same model inside it would
deadlock or disturb it.

A long step gives short work at most half of its time: at a yield point where short work
has already had as long as the step itself, it waits for the next one. A flood of short
work slows long runs down to half speed, never to a stop.
"""

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

from app.zoo.cancel import cancellable
from app.zoo.yielding import StepAside, time_aside


@dataclass
class ShortJob:
    work: Callable[[], Any]
    model: str | None  # the model it runs, kept back while a long run is mid-run in it
    loop: asyncio.AbstractEventLoop
    done: "asyncio.Future[Any]"
    cancelled: threading.Event = field(default_factory=threading.Event)
    seconds: float = 0.0  # how long it ran

    def run(self) -> None:
        """Run on this thread and hand the outcome to the awaiting coroutine."""
        if self.cancelled.is_set():
            return  # its holder left: nobody reads it
        started = time.perf_counter()
        outcome: tuple[bool, Any]
        with cancellable(self.cancelled):
            try:
                outcome = (True, self.work())
            except Exception as error:  # the awaiting coroutine raises it
                outcome = (False, error)
        self.seconds = time.perf_counter() - started
        with suppress(RuntimeError):  # the event loop closed (shutdown): nobody awaits it
            self.loop.call_soon_threadsafe(self._settle, outcome)

    def _settle(self, outcome: tuple[bool, Any]) -> None:
        if self.done.done():
            return
        succeeded, value = outcome
        if succeeded:
            self.done.set_result(value)
        else:
            self.done.set_exception(value)


class ShortWork:
    """The line of short work, shared by the gate's threads (hence the lock)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: deque[ShortJob] = deque()
        # Per gate thread in a long step: the model it was last seen running.
        self._in_use: dict[int, str | None] = {}

    @property
    def waiting(self) -> bool:
        return bool(self._jobs)  # read without the lock: a stale answer costs one yield point

    def add(self, job: ShortJob) -> None:
        with self._lock:
            self._jobs.append(job)

    def run_waiting(self) -> None:
        """Run the pieces waiting now that may run, on this thread. Those that come meanwhile
        are for the next call: a stream of short work never keeps this thread from the
        long step queued after it."""
        for _ in range(len(self._jobs)):
            job = self._take()
            if job is None:
                return
            job.run()

    def step_aside_handler(self) -> StepAside:
        """The yield-point handler of one long step that starts now on this thread."""
        thread = threading.get_ident()
        started, aside_before = time.perf_counter(), time_aside()

        def step_aside(model: str | None) -> None:
            with self._lock:
                self._in_use[thread] = model
            if not self._jobs:
                return
            aside = time_aside() - aside_before
            if aside > time.perf_counter() - started - aside:
                return  # short work has had half of this step already
            self.run_waiting()

        return step_aside

    def long_step_ended(self) -> bool:
        """Forget this thread's model; whether work is still waiting (kept back for it)."""
        with self._lock:
            self._in_use.pop(threading.get_ident(), None)
            return bool(self._jobs)

    def _take(self) -> ShortJob | None:
        """The first piece whose model no long run is in the middle of; pieces whose holder
        left are dropped."""
        with self._lock:
            busy = set(self._in_use.values())
            for job in list(self._jobs):
                if job.cancelled.is_set():
                    self._jobs.remove(job)
                elif job.model is None or job.model not in busy:
                    self._jobs.remove(job)
                    return job
            return None
