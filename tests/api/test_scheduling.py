"""The inference gate schedules by cost: short work runs in the gaps of a long run on that
run's own thread (never for the model the run is in the middle of), long work takes fair
turns between clients, and each client's queued work is bounded by its estimated cost."""

import asyncio
import threading
import time

import pytest
import torch

from app.api.client_costs import ClientCosts, OverBudgetError, requesting_client
from app.api.costs import Cost
from app.api.fair_lane import FairLane
from app.api.inference import InferenceGate
from app.zoo.cancel import RunCancelled, cancellable, check_cancelled, stop_between_layers

LAYER_S = 0.05
LAYERS = 10


class SlowLayer(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        time.sleep(LAYER_S)
        return x + 1


class Stack(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layers = torch.nn.ModuleList(SlowLayer() for _ in range(LAYERS))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x


@pytest.fixture(scope="module")
def slow_model() -> Stack:
    model = Stack()
    stop_between_layers(model, "slow")
    return model


def _long_run(model: Stack) -> tuple[str, float]:
    model(torch.zeros(1))
    return threading.current_thread().name, time.monotonic()


def _short_run() -> tuple[str, float]:
    return threading.current_thread().name, time.monotonic()


async def _beside_a_long_run(model: Stack, short_cost: Cost) -> tuple[float, float, str, str]:
    """A long run of `model`, and short work sent once it has started: when each ended (s
    after the start) and on which thread each ran."""
    gate = InferenceGate(concurrency=1, queue_timeout_s=10)
    started = time.monotonic()
    long = asyncio.create_task(gate.run(lambda: _long_run(model), Cost(1000.0, "slow")))
    await asyncio.sleep(2.5 * LAYER_S)
    short_thread, short_end = await gate.run(_short_run, short_cost)
    long_thread, long_end = await long
    gate.close()
    return short_end - started, long_end - started, short_thread, long_thread


@pytest.mark.timing
def test_short_work_runs_in_a_long_runs_gap_on_its_thread(slow_model: Stack) -> None:
    short_end, long_end, short_thread, long_thread = asyncio.run(
        _beside_a_long_run(slow_model, Cost(1.0, "other"))
    )
    assert short_end < 5 * LAYER_S < long_end, (short_end, long_end)  # not after the long run
    assert short_thread == long_thread  # one thread: no second OpenMP pool


@pytest.mark.timing
def test_short_work_for_the_model_mid_run_waits_for_the_run(slow_model: Stack) -> None:
    short_end, long_end, _, _ = asyncio.run(_beside_a_long_run(slow_model, Cost(1.0, "slow")))
    assert short_end >= long_end


def test_short_work_does_not_wait_for_a_long_turn_held_between_steps() -> None:
    async def scenario() -> None:
        gate = InferenceGate(concurrency=1, queue_timeout_s=0.5)
        async with gate.holding() as slot:  # a streamed generation, between two steps
            await slot.run(lambda: None)
            assert gate.slots.value == 0
            assert await gate.run(lambda: 7, Cost(1.0, "other")) == 7
        gate.close()

    asyncio.run(scenario())


def test_short_work_run_inside_a_long_run_leaves_its_cancellation_alone() -> None:
    """A short job cancelled for its own client stops; the long run it ran inside goes on,
    and still stops when its own client leaves."""
    outer, inner = threading.Event(), threading.Event()
    inner.set()
    with cancellable(outer):
        with cancellable(inner), pytest.raises(RunCancelled):
            check_cancelled()
        check_cancelled()  # the outer run's event is back, and not set
        outer.set()
        with pytest.raises(RunCancelled):
            check_cancelled()


def test_long_work_takes_fair_turns_between_clients() -> None:
    """Clients a, b and c send work while the lane is busy, a three pieces: b's goes before
    a's second, not last, and c's cheap piece goes first."""

    async def scenario() -> list[str]:
        lane = FairLane(capacity=1)
        order: list[str] = []
        await lane.acquire()  # busy

        async def take(name: str, client: str, gflop: float) -> None:
            await lane.acquire(lane.tag(client, gflop))
            order.append(name)
            lane.release()

        tasks = [
            asyncio.create_task(take(name, client, gflop))
            for name, client, gflop in [
                ("a1", "a", 100),
                ("a2", "a", 100),
                ("a3", "a", 100),
                ("b1", "b", 100),
                ("c1", "c", 10),
            ]
        ]
        await asyncio.sleep(0)
        lane.release()
        await asyncio.gather(*tasks)
        return order

    assert asyncio.run(scenario()) == ["c1", "a1", "b1", "a2", "a3"]


def test_a_client_over_its_cost_budget_is_refused_and_told_what_to_do() -> None:
    costs = ClientCosts(budget_gflop=1500)
    with costs.charged("a", 1000, check=True, gflop_per_s=200):
        with (
            pytest.raises(OverBudgetError) as refused,
            costs.charged("a", 1000, check=True, gflop_per_s=200),
        ):
            pass
        assert refused.value.retry_after_s == 5  # 1000 GFLOP in flight at 200 GFLOP/s
        assert "Wait for your earlier requests to finish" in str(refused.value)
        with costs.charged("b", 1000, check=True, gflop_per_s=200):  # another client
            pass
        with costs.charged("a", 1000, check=False, gflop_per_s=200):  # a request's later work
            assert costs.in_flight("a") == 2000
    assert costs.in_flight("a") == 0
    with costs.charged("a", 5000, check=True, gflop_per_s=200):  # nothing in flight: let in
        pass


def test_the_gate_refuses_before_queueing_and_counts_a_requests_work_once() -> None:
    async def scenario() -> None:
        gate = InferenceGate(
            concurrency=1, queue_timeout_s=5, short_run_gflop=80, client_cost_gflop=150
        )
        requesting_client.set("a")
        release = asyncio.Event()

        async def first() -> None:
            async with gate.holding(Cost(100, "m")) as slot:
                await slot.run(lambda: None)
                # The same request's next piece is let in though it goes over (160 > 150).
                assert await gate.run(lambda: 1, Cost(60, "m")) == 1
                await release.wait()

        holder = asyncio.create_task(first())
        await asyncio.sleep(0.05)
        second = asyncio.create_task(gate.run(lambda: None, Cost(100, "m")))  # a new request
        with pytest.raises(OverBudgetError):
            await second
        assert gate.waiting == 0  # refused before it queued
        other = asyncio.create_task(gate.run(lambda: 2, Cost(100, "m"), client="b"))
        await asyncio.sleep(0.05)
        assert gate.waiting == 1  # b's is let in, and waits its turn
        release.set()
        await holder
        assert await other == 2
        gate.close()

    asyncio.run(scenario())
