"""Points inside a long run where it may step aside for short work that is waiting.

A forward pass cannot be paused from outside, but it can offer, between its parts, to run
someone else's short work on its own thread before it goes on. The inference gate gives the
thread of a long run a handler (`stepping_aside`); each `yield_point` calls it, naming the
model the run is in the middle of, so that the handler keeps back work for that same model
(the model object is mid-run: its attention kernel, hooks and per-thread state belong to
this run). The layer hooks of every model (app/zoo/cancel.py) are yield points; so are the
head groups of a recomputed block (app/zoo/recompute.py), the value norms computed after a
run's passes (app/zoo/value_norms.py) and a lesson's epochs.

Work run from a yield point does not step aside itself: one level only, so a short run never
waits on another short run inside it. The time spent aside is counted per thread, so that
the long run's own time (for its metrics) can leave it out.
"""

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

# Called at each yield point with the id of the model whose run is in progress (None when
# the point belongs to no model).
StepAside = Callable[[str | None], None]

_local = threading.local()


@contextmanager
def stepping_aside(handler: StepAside) -> Iterator[None]:
    """Yield points reached on this thread in this block call `handler`."""
    previous: StepAside | None = getattr(_local, "handler", None)
    _local.handler = handler
    _local.named = False  # no yield point of this step has named its model yet
    try:
        yield
    finally:
        _local.handler = previous


def yield_point(model: str | None) -> None:
    """Let waiting short work run here, if this thread is running a long run's step."""
    handler: StepAside | None = getattr(_local, "handler", None)
    if handler is None:
        return
    _local.model, _local.named = model, True
    _local.handler = None  # what runs here does not step aside in turn
    started = time.perf_counter()
    try:
        handler(model)
    finally:
        _local.aside_s = time_aside() + time.perf_counter() - started
        _local.handler = handler


def yield_point_in_run() -> None:
    """A yield point in a run's own work after its model's passes (the value norms read from
    them), for the model those passes named; none before any has (the model is not known)."""
    if getattr(_local, "named", False):
        yield_point(_local.model)


def time_aside() -> float:
    """Seconds this thread has spent running other work from its yield points, ever."""
    seconds: float = getattr(_local, "aside_s", 0.0)
    return seconds
