"""The inference gate's held slot: work of many steps keeps one slot, and cancelling the
holder (a client gone) frees it at once, whether it waits on a step or in the queue."""

import threading
import time

import anyio
import pytest
import torch

from app.api.inference import InferenceGate
from app.zoo.cancel import RunCancelled, stop_between_layers


def test_a_held_slot_runs_steps_on_the_gate_threads_and_is_freed_at_the_end() -> None:
    async def scenario() -> None:
        gate = InferenceGate(concurrency=1, queue_timeout_s=5)
        async with gate.holding() as slot:
            assert gate.slots.value == 0
            names = [await slot.run(lambda: threading.current_thread().name) for _ in range(3)]
        assert gate.slots.value == 1
        assert all(name.startswith("inference") for name in names)
        gate.close()

    anyio.run(scenario)


@pytest.mark.timing
def test_cancelling_a_holder_mid_step_frees_the_slot_before_the_step_ends() -> None:
    step_ended = threading.Event()

    def slow_step() -> None:
        time.sleep(0.5)
        step_ended.set()

    async def scenario() -> None:
        gate = InferenceGate(concurrency=1, queue_timeout_s=5)

        async def hold() -> None:
            async with gate.holding() as slot:
                await slot.run(slow_step)

        async with anyio.create_task_group() as group:
            group.start_soon(hold)
            await anyio.sleep(0.1)
            group.cancel_scope.cancel()
        assert gate.slots.value == 1 and not step_ended.is_set()
        # The next holder's work waits only for the step already running on the thread.
        started = time.monotonic()
        assert await gate.run(lambda: step_ended.is_set())
        assert time.monotonic() - started < 1.0
        gate.close()

    anyio.run(scenario)


def test_a_waiter_cancelled_in_the_queue_leaves_it() -> None:
    async def scenario() -> None:
        gate = InferenceGate(concurrency=1, queue_timeout_s=5)
        entered = []

        async def wait_in_line() -> None:
            async with gate.holding():
                entered.append(True)

        async with gate.holding(), anyio.create_task_group() as group:
            group.start_soon(wait_in_line)
            await anyio.sleep(0.05)
            group.cancel_scope.cancel()
        assert entered == [] and gate.slots.value == 1
        gate.close()

    anyio.run(scenario)


@pytest.mark.timing
def test_a_cancelled_run_stops_at_the_models_next_layer() -> None:
    class SlowLayer(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            time.sleep(0.1)
            return x + 1

    class Stack(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layers = torch.nn.ModuleList(SlowLayer() for _ in range(10))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            for layer in self.layers:
                x = layer(x)
            return x

    model = Stack()
    stop_between_layers(model)
    outcome: list[str] = []

    def run() -> None:
        try:
            model(torch.zeros(1))
            outcome.append("finished")
        except RunCancelled:
            outcome.append("stopped")

    async def scenario() -> None:
        gate = InferenceGate(concurrency=1, queue_timeout_s=5)
        async with anyio.create_task_group() as group:
            group.start_soon(gate.run, run)
            await anyio.sleep(0.25)
            group.cancel_scope.cancel()
        started = time.monotonic()
        await gate.run(lambda: None)  # waits only for the layer that was running
        assert time.monotonic() - started < 0.3
        assert outcome == ["stopped"]
        assert model(torch.zeros(1)).item() == 10  # outside the gate, nothing stops it
        gate.close()

    anyio.run(scenario)
