"""The inference gate's held slot: work of many steps keeps one slot, and cancelling the
holder (a client gone) frees it at once, whether it waits on a step or in the queue."""

import threading
import time

import anyio

from app.api.inference import InferenceGate


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
