"""Step-by-step generation against the adapter's own run: the same greedy tokens as
model.generate(), and each step's rows equal to the teacher-forced pass over the result."""

from pathlib import Path

import numpy as np
import pytest

from app.attention.errors import InputError
from app.attention.names import decoder_self_attention
from app.zoo.base import Example, ModelInfo
from app.zoo.hf_adapter import HuggingFaceAdapter
from app.zoo.huggingface import load_huggingface
from app.zoo.stepping import StepwiseGeneration

TEXT = "the cat sat on the mat"


def _adapter(path: Path) -> HuggingFaceAdapter:
    info = ModelInfo("tiny", "tiny", "decoder", 0, 0, [], "", 0, [Example(TEXT)])
    return load_huggingface(path, info, max_tokens=512)


@pytest.fixture(scope="module")
def decoders(tiny_models: dict[str, Path]) -> dict[str, HuggingFaceAdapter]:
    return {kind: _adapter(tiny_models[kind]) for kind in ("gpt2", "llama")}


def _run_to_the_end(generation: StepwiseGeneration) -> list:
    steps = []
    while generation.stop is None:
        steps.append(generation.step())
    return steps


@pytest.mark.parametrize("kind", ["gpt2", "llama"])
def test_steps_write_what_generate_writes_with_the_teacher_forced_rows(
    kind: str, decoders: dict[str, HuggingFaceAdapter]
) -> None:
    adapter = decoders[kind]
    generation = adapter.generation(TEXT, max_new_tokens=8)
    steps = _run_to_the_end(generation)
    run = adapter.run(TEXT, None, max_new_tokens=8)  # model.generate(), then one full pass
    prompt = len(generation.prompt)
    assert [t.text for t in generation.prompt] == run.target.texts()[:prompt]
    assert [s.token.text for s in steps] == run.target.texts()[prompt:]
    assert generation.text() == run.output_text
    assert steps[-1].stop == generation.stop
    assert all(s.stop is None for s in steps[:-1])
    for t, step in enumerate(steps):
        # Step t: the row of position P + t - 1 over positions 0 .. P + t - 1.
        assert step.index == t and step.query == prompt + t - 1
        assert step.rows.shape == (adapter.decoder_layers, adapter.info.heads, prompt + t)
        assert np.allclose(step.rows.sum(-1), 1, atol=1e-5)
        for layer in range(adapter.decoder_layers):
            forced = run.blocks[decoder_self_attention(layer)][:, step.query, : prompt + t]
            assert np.abs(step.rows[layer] - forced).max() <= 1e-5


def test_the_budget_the_model_limit_and_the_end_token_stop_the_writing(
    decoders: dict[str, HuggingFaceAdapter],
) -> None:
    # The seeded tiny GPT-2 never writes its end token here; the tiny Llama writes it third.
    adapter = decoders["gpt2"]  # 64 positions
    generation = adapter.generation(TEXT, max_new_tokens=3)
    steps = _run_to_the_end(generation)
    assert (generation.stop, len(steps)) == ("max_new_tokens", 3)

    long_prompt = " ".join(["the cat sat on the mat"] * 10)  # 60 tokens: room for 4
    generation = adapter.generation(long_prompt, max_new_tokens=8)
    assert generation.budget == 4
    steps = _run_to_the_end(generation)
    assert (generation.stop, len(steps)) == ("max_tokens", 4)

    generation = decoders["llama"].generation(TEXT, max_new_tokens=8)
    steps = _run_to_the_end(generation)
    assert (generation.stop, len(steps)) == ("eos", 3)
    assert (steps[-1].token.text, steps[-1].token.special) == ("[SEP]", True)
    assert "[SEP]" not in generation.text()

    with pytest.raises(InputError, match="no room left"):
        adapter.generation(" ".join(["cat"] * 64), max_new_tokens=8)
    with pytest.raises(RuntimeError, match="has ended"):
        generation.step()


def test_encoders_and_encoder_decoders_do_not_step(tiny_models: dict[str, Path]) -> None:
    for kind in ("bert", "bart"):
        with pytest.raises(InputError, match="decoder-only models do"):
            _adapter(tiny_models[kind]).generation(TEXT, max_new_tokens=4)
