"""The line for long work: a few holders at once, the rest in fair order between clients.

Start-time fair queueing: each piece of long work gets a start tag when it joins,

    start = max(virtual time, the finish tag of the client's previous work)
    finish = start + its estimated cost

and the waiting work with the smallest start tag goes next; the virtual time is the start
tag of the work that went last. A client who keeps sending long work moves its own tags
ahead by what that work costs, so a client with one piece waiting goes before the second
piece of another, and cheap work goes before dear work sent at the same time.

A request's later pieces (the render of a run it computed) keep the tag of its first: they
finish what is already under way, and the run it holds (141 MB for 2,048 SmolLM2 tokens)
is not kept waiting while others start theirs.
"""

import asyncio
import heapq
import itertools


class FairLane:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._held = 0
        self._virtual_time = 0.0
        self._finish: dict[str, float] = {}  # per client, the finish tag of its last work
        # (start tag, arrival, grant): the smallest start tag first, then the first to come.
        self._waiting: list[tuple[float, int, asyncio.Future[None]]] = []
        self._arrivals = itertools.count()

    @property
    def value(self) -> int:
        """Holders that could start now without waiting (as a semaphore's value)."""
        return self.capacity - self._held

    def start_tag(self, client: str | None, gflop: float) -> float:
        """The start tag of new work of `gflop` from `client` (None: nobody's; it does not
        move anyone's tags)."""
        if client is None:
            return self._virtual_time
        start = max(self._virtual_time, self._finish.get(client, 0.0))
        self._finish[client] = start + gflop
        return start

    async def acquire(self, start_tag: float | None = None) -> None:
        """Wait for a turn (the first free one, with no start tag: at the virtual time)."""
        tag = self._virtual_time if start_tag is None else start_tag
        if self._held < self.capacity:  # then nobody waits: each release hands its turn on
            self._held += 1
            self._virtual_time = max(self._virtual_time, tag)
            return
        grant: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (tag, next(self._arrivals), grant))
        try:
            await grant
        except BaseException:
            if grant.done() and not grant.cancelled():
                self.release()  # the turn came as the waiter left: hand it on
            raise

    def release(self) -> None:
        while self._waiting:
            tag, _, grant = heapq.heappop(self._waiting)
            if not grant.done():  # a waiter that left is skipped
                self._virtual_time = max(self._virtual_time, tag)
                grant.set_result(None)
                return
        self._held -= 1
        # Clients whose last finish tag is behind the virtual time start at it anyway.
        self._finish = {c: f for c, f in self._finish.items() if f > self._virtual_time}
