"""The inference API on tiny trained models: shapes, normalization, causality, errors."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from app.attention.run import AttentionRun
from app.seq2seq.translator import Translator


def check_blocks(run: AttentionRun, translator: Translator) -> None:
    sources, targets = len(run.source), len(run.target)
    assert len(run.target_input) == targets
    assert run.target_input.texts()[0] == "<s>"
    assert run.target_input.texts()[1:] == run.target.texts()[:-1]
    heads = translator.heads
    expected = {"decoder.0.cross_attn"}
    if translator.family == "transformer":
        expected = {"encoder.0.self_attn"} | {
            f"decoder.{i}.{kind}" for i in range(2) for kind in ("self_attn", "cross_attn")
        }
    assert {str(name) for name in run.blocks} == expected
    for name, weights in run.blocks.items():
        assert weights.dtype == np.float32
        queries = sources if name.stack == "encoder" else targets
        keys = targets if (name.stack, name.kind) == ("decoder", "self_attn") else sources
        assert weights.shape == (heads, queries, keys), name
        assert np.allclose(weights.sum(axis=-1), 1, atol=1e-4)
        if (name.stack, name.kind) == ("decoder", "self_attn"):
            assert np.abs(np.triu(weights, k=1)).max() == 0


@pytest.mark.parametrize("family", ["bahdanau", "luong", "transformer"])
def test_generated_and_teacher_forced_runs_have_consistent_blocks(
    family: str, tiny_translators: dict[str, Translator]
) -> None:
    translator = tiny_translators[family]
    generated = translator.attend("他喜欢茶。", max_new_tokens=6)
    assert generated.output_text is not None
    assert 1 <= len(generated.target) <= 6
    check_blocks(generated, translator)

    forced = translator.attend("他喜欢茶。", target="He likes tea.")
    assert forced.output_text is None
    assert forced.target.texts() == ["He", "likes", "tea", ".", "</s>"]
    assert forced.target_input.texts() == ["<s>", "He", "likes", "tea", "."]
    check_blocks(forced, translator)


def test_beam_search_returns_a_run_like_greedy(tiny_translators: dict[str, Translator]) -> None:
    translator = tiny_translators["transformer"]
    run = translator.attend("我喜欢狗。", beam_size=3, max_new_tokens=8)
    check_blocks(run, translator)
    assert translator.translate(["我喜欢狗。"], beam_size=1, max_new_tokens=8) == [
        translator.attend("我喜欢狗。", max_new_tokens=8).output_text
    ]


@pytest.mark.parametrize(
    ("text", "target", "message"),
    [
        ("  \u200b ", None, "empty"),
        ("我" * 200, None, "at most"),
        ("xyz", None, "none of the characters"),
        ("我喜欢茶。", "   ", "target translation is empty"),
    ],
)
def test_unusable_input_raises_a_readable_value_error(
    text: str, target: str | None, message: str, tiny_translators: dict[str, Translator]
) -> None:
    with pytest.raises(ValueError, match=message):
        tiny_translators["bahdanau"].attend(text, target=target)


def test_limits_and_layout_are_exposed(tiny_translators: dict[str, Translator]) -> None:
    transformer = tiny_translators["transformer"]
    assert (transformer.layers, transformer.heads, transformer.variants) == (2, 2, [])
    assert transformer.max_source_tokens == 127 and transformer.max_target_tokens == 127
    assert (tiny_translators["bahdanau"].layers, tiny_translators["bahdanau"].heads) == (1, 1)


def test_concurrent_calls_on_one_translator_give_the_sequential_results(
    tiny_translators: dict[str, Translator],
) -> None:
    translator = tiny_translators["transformer"]
    texts = ["我喜欢茶。", "他喜欢狗。", "你们喜欢书。", "她喜欢咖啡。"] * 3
    expected = [translator.attend(text, max_new_tokens=6) for text in texts]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda text: translator.attend(text, max_new_tokens=6), texts))
    for got, want in zip(results, expected, strict=True):
        assert got.target == want.target
        for name, weights in want.blocks.items():
            assert np.allclose(got.blocks[name], weights, atol=1e-6)
