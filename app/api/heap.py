"""Freed memory goes back to the system after long work.

A long run allocates many tensors of a few megabytes (SmolLM2 at 2,041 tokens: 4.7 MB per
layer input, 12.5 MB per feed-forward activation). glibc serves blocks of that size from its
heaps, not from mappings of their own, and a heap gives back only what lies above its last
block in use: the layer inputs a computed run keeps sit between the freed activations, so
after one such run the server held about 650 MB more than it used, and more after the next.
malloc_trim(0) hands every free page inside the heaps back (50 ms after a 2,041-token run);
the gate calls it when a long holder that ran a second or more ends: once per run, never
between a generation's steps.
Elsewhere than glibc there is nothing to call, and nothing is done.
"""

import ctypes
import ctypes.util
from collections.abc import Callable


def _malloc_trim() -> Callable[[int], int] | None:
    library = ctypes.util.find_library("c")
    if library is None:
        return None
    trim: Callable[[int], int] | None = getattr(ctypes.CDLL(library), "malloc_trim", None)
    return trim


_TRIM = _malloc_trim()


def release_freed_memory() -> None:
    """Return the heaps' free pages to the system (glibc only)."""
    if _TRIM is not None:
        _TRIM(0)
