"""Read modules' real inputs and outputs during a forward pass, with forward hooks.

The model object is shared by concurrent requests, so a hook only records calls made from
the thread that installed it: another request's forward pass, in another worker thread,
passes through untouched.
"""

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, NamedTuple

from torch import nn


class Call(NamedTuple):
    inputs: tuple[Any, ...]
    output: Any


@contextmanager
def capture_calls(modules: Mapping[str, nn.Module]) -> Iterator[dict[str, Call]]:
    """Yield a dict that fills, by name, with each module's last call during the `with` body."""
    owner = threading.get_ident()
    captured: dict[str, Call] = {}

    def recorder(name: str) -> Any:
        def hook(_module: nn.Module, inputs: tuple[Any, ...], output: Any) -> None:
            if threading.get_ident() == owner:
                captured[name] = Call(inputs, output)

        return hook

    handles = [module.register_forward_hook(recorder(name)) for name, module in modules.items()]
    try:
        yield captured
    finally:
        for handle in handles:
            handle.remove()
