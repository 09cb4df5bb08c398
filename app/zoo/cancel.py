"""Stopping a model run whose client has gone, between layers.

A forward pass cannot be interrupted from outside, but it can check, as each layer starts,
whether the request it serves was cancelled. The inference gate marks the run's thread with
an event (`cancellable`) and sets it when the request is cancelled; `stop_between_layers`
hooks every layer of a model to raise RunCancelled once the event is set. The run is lost
(it was for nobody) and the thread is free for the next request within one layer's time.
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

_local = threading.local()


class RunCancelled(Exception):
    """The request this run served was cancelled; nobody will read the result."""


@contextmanager
def cancellable(cancelled: threading.Event) -> Iterator[None]:
    """Runs in this block, on this thread, stop at the next layer once `cancelled` is set."""
    _local.cancelled = cancelled
    try:
        yield
    finally:
        _local.cancelled = None


def check_cancelled() -> None:
    event: threading.Event | None = getattr(_local, "cancelled", None)
    if event is not None and event.is_set():
        raise RunCancelled


def _before_layer(module: torch.nn.Module, args: Any) -> None:
    check_cancelled()


def stop_between_layers(model: torch.nn.Module) -> None:
    """Hook every layer (each module of every ModuleList: encoder and decoder layers, GPT-2
    blocks, Llama layers) to stop a cancelled run as it starts."""
    for module in model.modules():
        if isinstance(module, torch.nn.ModuleList):
            for layer in module:
                layer.register_forward_pre_hook(_before_layer)
