"""The run service: every route that shows a model's attention gets its run here.

It owns the pipeline between a request and a run: the checks (app/api/runs/validation.py),
the run's key, and the tiers a run comes from, in order: the local cache, the shared one
(Redis, across replicas), then a forward pass on the inference gate, batched with other
texts for the same encoder. A computed run is kept in both caches. Routes translate between
HTTP and this service; they never reach the tiers themselves.
"""

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Literal

import anyio.to_thread

from app.api.batching import Batcher
from app.api.costs import Cost, reading_cost, run_cost
from app.api.inference import InferenceGate
from app.api.rendering import Renderer, ResponseCache
from app.api.runs.spec import RunSpec
from app.api.runs.validation import check_options, check_selection, check_texts, new_token_budget
from app.api.shared_cache import SharedRunCache
from app.attention.cache import RunCache
from app.attention.run import AttentionRun
from app.settings import Settings
from app.zoo.base import ModelAdapter
from app.zoo.registry import Registry

# Where a run came from: the local cache, the shared one (Redis), or a forward pass here.
CacheStatus = Literal["local", "shared", "miss"]

# (model, variant, what the model reads of the text, target, generation budget)
RunKey = tuple[str, str | None, Hashable, str | None, int | None]

# Responses up to this many weights are encoded on the event loop: a 30-token MiniLM run
# (64,800 weights) takes about 0.3 ms in uint8, less than the hop to a render thread and
# back, and at most about 1 ms in JSON.
INLINE_RENDER_WEIGHTS = 100_000


def cache_headers(status: CacheStatus) -> dict[str, str]:
    """X-Cache says whether the run was cached (no forward pass for this request); on a hit,
    X-Cache-Tier says which tier had it."""
    if status == "miss":
        return {"X-Cache": "miss"}
    return {"X-Cache": "hit", "X-Cache-Tier": status}


@dataclass(frozen=True)
class CheckedRun:
    """A spec that passed every check: its model, the key of its run and its budget."""

    spec: RunSpec
    adapter: ModelAdapter
    key: RunKey
    budget: int

    @property
    def cost(self) -> Cost | None:
        """The run's work, estimated before it runs: the gate schedules by it."""
        _, _, reading, target, new_tokens = self.key
        return run_cost(self.adapter, reading, target, new_tokens)

    @property
    def variant(self) -> str | None:
        """The variant that runs: the one asked for, else the model's default."""
        return self.spec.variant or self.adapter.info.default_variant

    @property
    def max_new_tokens(self) -> int | None:
        """The budget the run writes with, as responses state it (part of the key); None when
        the model writes nothing (an encoder, or a target given)."""
        return self.key[4]


@dataclass(frozen=True)
class RunService:
    registry: Registry
    settings: Settings
    cache: RunCache
    shared: SharedRunCache | None
    gate: InferenceGate
    batcher: Batcher
    renderer: Renderer

    def adapter(self, model_id: str) -> ModelAdapter:
        """The model, or a 404 that lists the models there are."""
        return self.registry.get(model_id)

    @property
    def responses(self) -> ResponseCache:
        """Rendered response bytes, for requests that repeat one exactly."""
        return self.renderer.cache

    def check(self, spec: RunSpec) -> CheckedRun:
        """The checks every run passes before anything runs (the text is tokenized for the
        key, once: the run reuses that reading), its budget included: the key holds the
        budget the run writes with."""
        adapter = self.adapter(spec.model)
        check_texts(spec.text, spec.target, self.settings)
        check_options(spec.options, adapter.info, self.registry)
        check_selection(spec, adapter.info)
        reading = self.registry.reading_key(adapter.info.id, spec.text, spec.variant)
        budget = self.budget(adapter, spec.text, spec.target, spec.max_new_tokens, spec.variant)
        generates = spec.target is None and adapter.info.family != "encoder"
        variant = spec.variant or adapter.info.default_variant
        key = (adapter.info.id, variant, reading, spec.target, budget if generates else None)
        return CheckedRun(spec, adapter, key, budget)

    def budget(
        self,
        adapter: ModelAdapter,
        text: str,
        target: str | None,
        max_new_tokens: int | None,
        variant: str | None,
    ) -> int:
        """The most tokens a run writes: the request's max_new_tokens (or the server's),
        shortened to the room the model's limits leave; a 422 when not one token fits or the
        target does not fit (app/zoo/budget.py). Tokenizing only, before any model work."""
        requested = new_token_budget(max_new_tokens, self.settings)
        if adapter.info.family == "encoder":
            return requested  # an encoder writes nothing
        return self.registry.budget(adapter.info.id, text, target, requested, variant)

    async def run(self, checked: CheckedRun) -> tuple[AttentionRun, CacheStatus]:
        """The run from the first tier that has it, and which tier that was."""
        key, adapter, spec = checked.key, checked.adapter, checked.spec
        # A miss is counted once, below, when it costs a forward pass.
        run = self.cache.get(key, count_miss=False)
        if run is not None:
            return run, "local"
        if self.shared is not None:
            run = await anyio.to_thread.run_sync(self.shared.get, adapter, key)
            if run is not None:
                self.cache.put(key, run)
                return run, "shared"
        cost = checked.cost
        if adapter.batchable and spec.target is None and not spec.variant:
            self.cache.count_miss()  # the batch runs the model for it
            run = await self.batcher.run(adapter, spec.text, cost)
            self.cache.put(key, run)
        else:
            run = await self.gate.run(lambda: self._compute(checked), cost)
        await self._share(checked, run)
        return run, "miss"

    def _compute(self, checked: CheckedRun) -> AttentionRun:
        """A forward pass, on a gate thread, unless an identical request filled the cache
        while this one queued."""
        twin = self.cache.get(checked.key)
        if twin is not None:
            return twin
        spec = checked.spec
        fresh = self.gate.timed_run(
            checked.adapter.info.id,
            lambda: checked.adapter.run(
                spec.text, spec.target, max_new_tokens=checked.budget, variant=spec.variant
            ),
        )
        self.cache.put(checked.key, fresh)
        return fresh

    async def _share(self, checked: CheckedRun, run: AttentionRun) -> None:
        """Written before the answer, so that the next request for this text, on any replica,
        finds it; off the gate, but for computing a computed run's blocks (torch work)."""
        if self.shared is None or not self.shared.fits(run):
            return
        held = await self.gate.run(run.materialized, reading_cost(run)) if run.computed else run
        await anyio.to_thread.run_sync(self.shared.put, checked.adapter, checked.key, held)

    async def render(
        self, run: AttentionRun, render: Callable[[], bytes], weights: int | None = None
    ) -> bytes:
        """`render()`'s bytes. A small response (`weights`, when known, up to
        INLINE_RENDER_WEIGHTS) is encoded at once; a larger one off the event loop and
        bounded (app/api/rendering.py): encoding a long run takes a while. A computed run
        (app/attention/run.py) does torch work as it renders: that belongs on the inference
        gate's threads."""
        if run.computed:  # priced as reading every block: the gate cannot see what it reads
            return await self.gate.run(render, reading_cost(run))
        if weights is not None and weights <= INLINE_RENDER_WEIGHTS:
            return render()
        return await self.renderer.gate.run(render)
