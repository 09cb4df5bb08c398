"""The line for long work: a few holders at once, the rest in fair order between clients.

Self-clocked fair queueing (Golestani, 1994): each piece of long work gets a tag as it joins,

    tag = max(virtual time, the tag of the client's previous work) + its estimated cost

and the waiting work with the smallest tag goes next; the virtual time is the tag of the
work that went last. A client who keeps sending long work moves its own tags ahead by what
that work costs, so one client's second piece waits for every other client's first, and
cheap work goes before dear work sent at the same time.

A request's later pieces (the render of a run it computed) keep the tag of its first, which
is behind every tag given since: they finish what is already under way, and the run it
holds (141 MB for 2,048 SmolLM2 tokens) is not kept waiting while others start theirs.
"""

import asyncio
import heapq
import itertools


class FairLane:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._held = 0
        self._virtual_time = 0.0
        self._last_tag: dict[str, float] = {}  # per client, the tag of its last work
        # (tag, arrival, grant): the smallest tag first, then the first to come.
        self._waiting: list[tuple[float, int, asyncio.Future[None]]] = []
        self._arrivals = itertools.count()

    @property
    def value(self) -> int:
        """Holders that could start now without waiting (as a semaphore's value)."""
        return self.capacity - self._held

    def tag(self, client: str | None, gflop: float) -> float:
        """The tag of new work of `gflop` from `client` (None: nobody's, which moves no
        client's tags)."""
        if client is None:
            return self._virtual_time + gflop
        tag = max(self._virtual_time, self._last_tag.get(client, 0.0)) + gflop
        self._last_tag[client] = tag
        return tag

    async def acquire(self, tag: float | None = None) -> None:
        """Wait for a turn; with no tag, at the virtual time (before any tagged work)."""
        tag = self._virtual_time if tag is None else tag
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
        # Clients whose last tag is behind the virtual time start from it anyway.
        self._last_tag = {c: t for c, t in self._last_tag.items() if t > self._virtual_time}
