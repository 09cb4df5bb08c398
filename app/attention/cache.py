"""A least-recently-used cache of model runs, keyed by content and bounded in bytes.

A hit skips the forward pass; selection and encoding still run per request, so one cached
run serves the overview, the focused head and every encoding. Keys are what the model reads
(token ids, see ModelAdapter.reading_key) and count toward the budget with the run.
"""

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

from app.attention.run import AttentionRun

V = TypeVar("V")


class BoundedLRU(Generic[V]):
    """Least recently used out first, bounded by the bytes its entries say they hold (each
    entry's size given by the caller, keys included). Thread-safe; counts hits and misses."""

    def __init__(self, max_bytes: int, largest_entry: int | None = None) -> None:
        self.max_bytes = max_bytes
        # An entry bigger than this is not kept: it would push out most or all of the others.
        self.largest_entry = max_bytes if largest_entry is None else largest_entry
        self._entries: OrderedDict[Hashable, tuple[V, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0  # read by app/api/metrics.py
        self.misses = 0

    def get(self, key: Hashable, *, count_miss: bool = True) -> V | None:
        """The value under `key`, or None. `count_miss=False` for a first look whose miss is
        counted later, by the look that decides to compute: each request counts once."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                if count_miss:
                    self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry[0]

    def count_miss(self) -> None:
        """A miss decided elsewhere (a request that joins a batch rather than look again)."""
        with self._lock:
            self.misses += 1

    def put_sized(self, key: Hashable, value: V, size: int) -> None:
        if size > self.largest_entry:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            self._entries[key] = (value, size)
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, (_, evicted) = self._entries.popitem(last=False)
                self._bytes -= evicted

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)


class RunCache(BoundedLRU[AttentionRun]):
    def put(self, key: Hashable, run: AttentionRun) -> None:
        self.put_sized(key, run, run.size_bytes + key_bytes(key))


def key_bytes(key: object) -> int:
    """About the memory a key holds: 4 bytes a character (the widest str), 36 an integer with
    its slot, recursively through tuples. A key of 20,000 characters is not free."""
    if isinstance(key, str):
        return 49 + 4 * len(key)
    if isinstance(key, int):
        return 36
    if isinstance(key, tuple):
        return 40 + sum(key_bytes(item) for item in key)
    return 16
