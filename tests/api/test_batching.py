"""Dynamic batching: texts that wait for the gate together share one forward pass, and each
gets exactly the run it would have got alone."""

import asyncio
import time
from pathlib import Path
from unittest.mock import patch

import numpy as np
import pytest

from app.api.batching import Batcher
from app.api.costs import Cost
from app.api.inference import InferenceGate
from app.attention.errors import InputError
from app.attention.run import AttentionRun
from app.settings import Settings
from app.zoo.base import ModelAdapter
from app.zoo.registry import Registry, load_registry

TEXTS = [
    "The animal didn't cross the street because it was too tired",
    "Time flies like an arrow",
    "A short one",
    "Colourless green ideas sleep furiously while the old lighthouse keeper counts ships",
    "hi",
]


@pytest.fixture(scope="module")
def registry(tiny_models: dict[str, Path]) -> Registry:
    settings = Settings(
        enabled_models=["minilm"],
        hf_models={"tiny-bert": tiny_models["bert"]},
    )
    return load_registry(settings)


def _assert_same(alone: AttentionRun, batched: AttentionRun) -> None:
    assert alone.source.texts() == batched.source.texts()
    assert set(alone.blocks) == set(batched.blocks)
    for name in alone.blocks:
        np.testing.assert_allclose(batched.blocks[name], alone.blocks[name], atol=1e-5, rtol=0)
    for name, norms in (alone.value_norms or {}).items():
        assert batched.value_norms is not None
        np.testing.assert_allclose(batched.value_norms[name], norms, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("model", ["minilm", "tiny-bert"])
def test_a_batch_gives_each_text_its_own_run(registry: Registry, model: str) -> None:
    adapter = registry.get(model)
    assert adapter.batchable
    batched = adapter.run_batch(TEXTS)
    for text, run in zip(TEXTS, batched, strict=True):
        assert isinstance(run, AttentionRun)
        _assert_same(adapter.run(text, None, max_new_tokens=1), run)


@pytest.mark.parametrize("model", ["minilm", "tiny-bert"])
def test_a_lone_text_and_texts_of_one_length_run_unpadded_as_alone(
    registry: Registry, model: str
) -> None:
    adapter = registry.get(model)
    same_length = ["one two three", "four five six"]
    for texts in (TEXTS[:1], same_length):
        for text, run in zip(texts, adapter.run_batch(texts), strict=True):
            assert isinstance(run, AttentionRun)
            _assert_same(adapter.run(text, None, max_new_tokens=1), run)


def test_a_text_that_cannot_run_gets_its_error_in_its_place(registry: Registry) -> None:
    adapter = registry.get("minilm")
    results = adapter.run_batch(["fine", "word " * 600, "also fine"])
    assert isinstance(results[0], AttentionRun) and isinstance(results[2], AttentionRun)
    assert isinstance(results[1], InputError) and "512" in str(results[1])


@pytest.mark.timing
def test_requests_waiting_together_share_a_batch(registry: Registry) -> None:
    adapter: ModelAdapter = registry.get("minilm")

    async def scenario() -> None:
        gate = InferenceGate(concurrency=1, queue_timeout_s=30)
        batcher = Batcher(gate, max_batch=16)
        started = time.monotonic()
        alone = await batcher.run(adapter, "a lone request runs at once")
        assert (batcher.batches, batcher.texts) == (1, 1)
        assert time.monotonic() - started < 5
        texts = [f"{text} number {i}" for i, text in enumerate(TEXTS * 3)]
        runs = await asyncio.gather(*(batcher.run(adapter, text) for text in texts))
        # the first arrival runs alone; the rest waited for it and share the next batch
        assert batcher.batches <= 3 and batcher.texts == 1 + len(texts)
        for text, run in zip(texts, runs, strict=True):
            _assert_same(adapter.run(text, None, max_new_tokens=1), run)
        assert alone.source.texts()[1] == "a"
        gate.close()

    asyncio.run(scenario())


def test_texts_that_arrive_a_few_event_loop_turns_apart_share_a_batch(registry: Registry) -> None:
    """The gate is free, so the first text could run at once, alone; the batch is taken only
    once the event loop has turned a few times with nothing new, so texts the loop already has
    in hand (here one and two turns behind) join it."""
    adapter: ModelAdapter = registry.get("tiny-bert")

    async def scenario() -> None:
        gate = InferenceGate(concurrency=1, queue_timeout_s=30)
        batcher = Batcher(gate, max_batch=16)

        async def after_turns(text: str, turns: int) -> AttentionRun:
            for _ in range(turns):
                await asyncio.sleep(0)
            return await batcher.run(adapter, text)

        runs = await asyncio.gather(*(after_turns(text, i) for i, text in enumerate(TEXTS[:3])))
        assert (batcher.batches, batcher.texts) == (1, 3)
        for text, run in zip(TEXTS, runs, strict=False):
            _assert_same(adapter.run(text, None, max_new_tokens=1), run)
        gate.close()

    asyncio.run(scenario())


def test_a_request_whose_client_left_is_skipped(registry: Registry) -> None:
    adapter: ModelAdapter = registry.get("tiny-bert")

    async def scenario() -> None:
        gate = InferenceGate(concurrency=1, queue_timeout_s=30)
        batcher = Batcher(gate, max_batch=16)
        # The model's turn for short work is taken: both requests wait in line. (A long
        # holder would not stop them: short work runs beside it, app/api/inference.py.)
        async with gate.holding(Cost(1.0, adapter.info.id)):
            kept = asyncio.create_task(batcher.run(adapter, "kept"))
            left = asyncio.create_task(batcher.run(adapter, "left"))
            await asyncio.sleep(0.05)
            left.cancel()
        run = await kept
        _assert_same(adapter.run("kept", None, max_new_tokens=1), run)
        assert batcher.texts == 1  # "left" was never run
        gate.close()

    asyncio.run(scenario())


def test_an_encoder_reads_a_request_text_once(registry: Registry) -> None:
    """The cache key reads the text (on the event loop); the batch that runs it a moment
    later, on the gate thread, reuses that reading instead of tokenizing again."""
    adapter = registry.get("tiny-bert")
    tokens = adapter.tokens  # type: ignore[attr-defined]
    text = "read once, by the key, and used again by the run"
    with patch.object(tokens, "encode", wraps=tokens.encode) as encode:
        adapter.reading_key(text)
        (run,) = adapter.run_batch([text])
    assert encode.call_count == 1
    assert isinstance(run, AttentionRun)
    _assert_same(adapter.run(text + " ", None, max_new_tokens=1), run)


def test_a_batch_stays_short_the_weights_read_once(registry: Registry) -> None:
    """Texts of 6 GFLOP, 2 of them the pass's reading of the weights: under a short limit of
    14 a batch takes three (3 × 4 + 2), and the fourth goes in the next."""
    adapter: ModelAdapter = registry.get("tiny-bert")
    cost = Cost(6.0, adapter.info.id, per_pass_gflop=2.0)

    async def scenario() -> None:
        gate = InferenceGate(concurrency=1, queue_timeout_s=30, short_run_gflop=14)
        batcher = Batcher(gate, max_batch=16)
        async with gate.holding(Cost(1.0, adapter.info.id)):  # all four wait together
            runs = [asyncio.create_task(batcher.run(adapter, text, cost)) for text in TEXTS[:4]]
            await asyncio.sleep(0.05)
        await asyncio.gather(*runs)
        assert (batcher.batches, batcher.texts) == (2, 4)
        gate.close()

    asyncio.run(scenario())
