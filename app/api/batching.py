"""Dynamic batching: texts for the same model that wait for the inference gate together
share one forward pass.

A request joins its model's line and waits. Whenever the gate gives the model a slot, the
line is taken, up to `max_batch` texts at once, run as one batch (`ModelAdapter.run_batch`:
packed into one row, or padded), and each request gets its own run back, cut to its length.
A request that finds the gate free runs with what the event loop has in hand: the batch is
taken once the loop has had a few turns without a new text joining (_let_arrivals_join), which
on a quiet server is microseconds, so a lone request runs at once, alone, as it would have.
Requests that arrive while a run is under way would have waited for it anyway, and are
batched together when it ends. On 2 cores, 16 MiniLM sentences of 20-30 tokens run about
3-4× faster as one packed batch (with oneDNN's linear layers, app/zoo/onednn.py) than as bare
forward passes of the stock model one by one (`make bench`).

A batch is short work for the inference gate (app/api/inference.py): it runs in the gaps of
a long run, so MiniLM texts never wait for a 2,000-token SmolLM2 run. To stay short, a batch
takes texts while their estimated costs add up to at most ATTN_SHORT_RUN_GFLOP (16 texts of
30 tokens are about 11 GFLOP; one 512-token text, 14); a text dearer than that on its own
runs alone as long work. Each request's text is counted to its own client's cost budget.

A request whose client left (its future cancelled) is skipped when the batch is taken.
"""

import asyncio
from dataclasses import dataclass, field
from functools import partial

from app.api.client_costs import detach
from app.api.costs import Cost
from app.api.inference import InferenceGate, ServerBusyError
from app.attention.errors import InputError
from app.attention.run import AttentionRun
from app.zoo.base import ModelAdapter

# The batch is taken once the line has not grown for QUIET_TURNS turns of the event loop, or
# after GATHER_TURNS turns at most.
QUIET_TURNS = 3
GATHER_TURNS = 64


@dataclass(frozen=True)
class _Text:
    text: str
    cost: Cost | None
    done: "asyncio.Future[AttentionRun]"


@dataclass
class _Line:
    waiting: list[_Text] = field(default_factory=list)
    draining: asyncio.Task[None] | None = None


class Batcher:
    def __init__(self, gate: InferenceGate, max_batch: int) -> None:
        self.gate = gate
        self.max_batch = max_batch
        self._lines: dict[str, _Line] = {}
        self.batches = 0  # batches run, and the texts in them: for tests and metrics
        self.texts = 0

    async def run(self, adapter: ModelAdapter, text: str, cost: Cost | None = None) -> AttentionRun:
        """`text`'s run, batched with the texts that wait with it; `cost`: its estimate."""
        if cost is not None and not self.gate.is_short(cost):
            return await self._run_alone(adapter, text, cost)
        with self.gate.charged(cost):
            line = self._lines.setdefault(adapter.info.id, _Line())
            done: asyncio.Future[AttentionRun] = asyncio.get_running_loop().create_future()
            line.waiting.append(_Text(text, cost, done))
            if line.draining is None or line.draining.done():
                line.draining = asyncio.create_task(self._drain(adapter, line))
            return await done

    async def _run_alone(self, adapter: ModelAdapter, text: str, cost: Cost) -> AttentionRun:
        batch = partial(adapter.run_batch, [text])
        [result] = await self.gate.run(partial(self.gate.timed_run, adapter.info.id, batch), cost)
        if isinstance(result, InputError):
            raise result
        return result

    def _take(self, line: _Line) -> list[_Text]:
        """The next batch: texts whose clients wait, up to max_batch and the short cost. The
        batch is one pass, which reads the model's weights once for all its texts."""
        taken: list[_Text] = []
        own = per_pass = 0.0  # the texts' own work, and the pass's reading of the weights
        while line.waiting and len(taken) < self.max_batch:
            item = line.waiting[0]
            cost = item.cost or Cost(0.0, None)
            text_own = cost.gflop - cost.per_pass_gflop
            pass_read = max(per_pass, cost.per_pass_gflop)
            if taken and own + text_own + pass_read > self.gate.short_run_gflop:
                break
            del line.waiting[0]
            if not item.done.done():
                taken.append(item)
                own, per_pass = own + text_own, pass_read
        return taken

    async def _drain(self, adapter: ModelAdapter, line: _Line) -> None:
        detach()  # each request's text is counted to its own client, in run()
        short = Cost(self.gate.short_run_gflop, adapter.info.id)  # what a batch costs at most
        while line.waiting:
            taken: list[_Text] = []
            await self._let_arrivals_join(line)
            try:
                async with self.gate.holding(short) as slot:
                    taken = self._take(line)
                    if not taken:
                        continue
                    batch = partial(adapter.run_batch, [item.text for item in taken])
                    # Timed as one model run (app/api/metrics.py): a batch is one forward pass.
                    timed = partial(self.gate.timed_run, adapter.info.id, batch)
                    work = asyncio.create_task(slot.run(timed))
                    _stop_when_all_leave(work, [item.done for item in taken])
                    try:
                        results = await work
                    except asyncio.CancelledError:
                        if work.cancelled() and not _current_task_cancelling():
                            continue  # every client of the batch left: the model stopped
                        raise
            except ServerBusyError as busy:
                for item in line.waiting:
                    if not item.done.done():
                        item.done.set_exception(busy)
                line.waiting.clear()
                return
            except Exception as error:  # the batch failed: each request hears why
                for item in taken:
                    if not item.done.done():
                        item.done.set_exception(error)
                continue
            self.batches += 1
            self.texts += len(taken)
            for item, result in zip(taken, results, strict=True):
                if item.done.done():
                    continue
                if isinstance(result, InputError):
                    item.done.set_exception(result)
                else:
                    item.done.set_result(result)

    async def _let_arrivals_join(self, line: _Line) -> None:
        """Let the event loop finish what it has in hand before the batch is taken: requests
        already read from their sockets join this batch rather than wait for the next, and the
        answers of the last batch are sent before the model takes both cores again.

        Bounded by event-loop turns, not by time: a lone request on a quiet server waits for
        a few turns (microseconds). On 2 cores, a forward pass that shares them with the
        event loop runs up to twice as slow: each of its two threads waits for the other
        at every layer."""
        seen, quiet = len(line.waiting), 0
        for _ in range(GATHER_TURNS):
            if len(line.waiting) >= self.max_batch or quiet == QUIET_TURNS:
                return
            await asyncio.sleep(0)
            quiet = quiet + 1 if len(line.waiting) == seen else 0
            seen = len(line.waiting)


def _stop_when_all_leave(
    work: "asyncio.Future[list[AttentionRun | InputError]]",
    waiting: list["asyncio.Future[AttentionRun]"],
) -> None:
    """Cancel `work` (the model stops at its next layer) once every request waiting for it
    has been cancelled: nobody is left to read the batch."""

    def check(_: object) -> None:
        if all(done.cancelled() for done in waiting):
            work.cancel()

    for done in waiting:
        done.add_done_callback(check)


def _current_task_cancelling() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
