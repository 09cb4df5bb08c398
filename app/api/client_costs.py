"""Who asked for a piece of work, and how much each client has queued or running.

A request's client is its address as the rate limit reads it (app/api/rate_limit.py),
recorded by the gate's dependency (app/api/deps.py) in a context variable, so that every
piece of gate work the request starts, in any route and in the tasks it spawns, is counted
to it without each route passing it along.

Each client may have at most ATTN_CLIENT_COST_GFLOP of estimated work queued or running at
once. A request that would go beyond it is refused before anything of it runs, with a 429
that says how long the client's own work will take to drain, unless the client has nothing
in flight: one request of any size is always let in, or a large enough text could never
run. Later work of a request already let in (the render after the run) is never refused:
refusing it would waste what already ran.
"""

import math
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass
class RequestTurn:
    """What the gate remembers of one request across its pieces of work."""

    admitted: bool = False  # its first piece passed the client's cost check
    tag: float | None = None  # its place in the long line (app/api/fair_lane.py)


requesting_client: ContextVar[str | None] = ContextVar("requesting_client", default=None)
_turn: ContextVar[RequestTurn | None] = ContextVar("request_turn", default=None)


def this_turn() -> RequestTurn:
    """The current request's turn, made on its first piece of work."""
    turn = _turn.get()
    if turn is None:
        turn = RequestTurn()
        _turn.set(turn)
    return turn


def detach() -> None:
    """Work started from here on (in this task) belongs to no client: for a task that serves
    many requests at once (a batch), which each pay for their own part."""
    requesting_client.set(None)
    _turn.set(None)


class OverBudgetError(RuntimeError):
    """A client's work queued or running would exceed its cost budget."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class ClientCosts:
    """Estimated GFLOP queued or running per client. Used on the event loop only."""

    def __init__(self, budget_gflop: float) -> None:
        self.budget_gflop = budget_gflop
        self._in_flight: dict[str, float] = {}

    def in_flight(self, client: str) -> float:
        return self._in_flight.get(client, 0.0)

    @contextmanager
    def charged(
        self, client: str | None, gflop: float, *, check: bool, gflop_per_s: float
    ) -> Iterator[None]:
        """Count `gflop` to `client` until the block ends; raise OverBudgetError first if
        `check` and it would go over (see the module's docstring). `gflop_per_s`: the gate's
        pace, to say when to retry."""
        if client is None:
            yield
            return
        held = self.in_flight(client)
        if check and held > 0 and held + gflop > self.budget_gflop:
            retry_after_s = max(1, math.ceil(held / gflop_per_s))
            raise OverBudgetError(
                f"your requests already have about {held:,.0f} GFLOP of model work queued or "
                f"running here (about {retry_after_s} s); each client may have up to "
                f"{self.budget_gflop:,.0f} GFLOP at once, and this request needs about "
                f"{gflop:,.0f}. Wait for your earlier requests to finish before sending more, "
                f"or send shorter texts; retry in {retry_after_s} s",
                retry_after_s,
            )
        self._in_flight[client] = held + gflop
        try:
            yield
        finally:
            left = self._in_flight[client] - gflop
            if left > 1e-9:
                self._in_flight[client] = left
            else:
                del self._in_flight[client]
