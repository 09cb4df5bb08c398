"""Stopping a model run whose client has gone, between layers; and stepping aside there.

A forward pass cannot be interrupted from outside, but it can check, as each layer starts,
whether the request it serves was cancelled. The inference gate marks the run's thread with
an event (`cancellable`) and sets it when the request is cancelled; `stop_between_layers`
hooks every layer of a model to raise RunCancelled once the event is set. The run is lost
(it was for nobody) and the thread is free for the next request within one layer's time.

The same hooks are the model's yield points (app/zoo/yielding.py): a long run lets short work
that waits run on its thread as a layer starts, and again before each part of a layer (its
attention, its feed-forward block), so that the wait is at most one part of one layer.
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

from app.zoo.yielding import yield_point

_local = threading.local()


class RunCancelled(Exception):
    """The request this run served was cancelled; nobody will read the result."""


@contextmanager
def cancellable(cancelled: threading.Event) -> Iterator[None]:
    """Runs in this block, on this thread, stop at the next layer once `cancelled` is set.
    Blocks nest (short work run from a long run's yield point): the outer one's event is
    back in force when the inner block ends."""
    previous: threading.Event | None = getattr(_local, "cancelled", None)
    _local.cancelled = cancelled
    try:
        yield
    finally:
        _local.cancelled = previous


def check_cancelled() -> None:
    event: threading.Event | None = getattr(_local, "cancelled", None)
    if event is not None and event.is_set():
        raise RunCancelled


def stop_between_layers(model: torch.nn.Module, model_id: str | None = None) -> None:
    """Hook every layer (each module of every ModuleList: encoder and decoder layers, GPT-2
    blocks, Llama layers) to stop a cancelled run as it starts, and to step aside there and
    before each of its parts. `model_id` names the model at its yield points: short work for
    this same model is kept waiting while one of its runs is in progress."""

    def before_layer(_module: torch.nn.Module, _args: Any) -> None:
        check_cancelled()
        yield_point(model_id)

    def before_part(_module: torch.nn.Module, _args: Any) -> None:
        yield_point(model_id)

    for module in model.modules():
        if isinstance(module, torch.nn.ModuleList):
            for layer in module:
                layer.register_forward_pre_hook(before_layer)
                for part in layer.children():
                    part.register_forward_pre_hook(before_part)
