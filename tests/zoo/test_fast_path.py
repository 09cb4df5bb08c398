"""The encoder's fast path follows the settings the server starts with (ATTN_PACKED_RUNS,
ATTN_ONEDNN_LINEARS): off, an encoder keeps padded batches, its own eager attention and
PyTorch's linear layers, and gives the same weights."""

from pathlib import Path

import numpy as np
import pytest
from torch import nn

from app.attention.run import AttentionRun
from app.settings import FastPathSettings, Settings
from app.zoo.hf_encoder import HFEncoderAdapter
from app.zoo.packing import PACKED_ATTENTION
from app.zoo.registry import load_registry

TEXTS = ["the cat sat on the mat", "hi", "colourless green ideas sleep furiously"]


def _encoder(tiny_models: dict[str, Path], fast_path: FastPathSettings) -> HFEncoderAdapter:
    settings = Settings(
        enabled_models=[], hf_models={"tiny-bert": tiny_models["bert"]}, fast_path=fast_path
    )
    adapter = load_registry(settings).get("tiny-bert")
    assert isinstance(adapter, HFEncoderAdapter)
    return adapter


def _on_onednn(adapter: HFEncoderAdapter) -> list[bool]:
    return [
        "forward" in vars(module) for module in adapter.model.modules() if type(module) is nn.Linear
    ]


@pytest.mark.parametrize(
    ("packed_runs", "onednn_linears"), [(True, True), (True, False), (False, True)]
)
def test_the_registry_loads_encoders_as_the_fast_path_settings_say(
    tiny_models: dict[str, Path], packed_runs: bool, onednn_linears: bool
) -> None:
    fast_path = FastPathSettings(packed_runs=packed_runs, onednn_linears=onednn_linears)
    adapter = _encoder(tiny_models, fast_path)
    assert adapter.packed is packed_runs
    expected = PACKED_ATTENTION if packed_runs else "eager"
    assert adapter.model.config._attn_implementation == expected
    # oneDNN serves packed runs only: with packing off it stays off whatever its own setting.
    assert set(_on_onednn(adapter)) == {packed_runs and onednn_linears}


def test_without_the_fast_path_batches_give_the_same_weights(
    tiny_models: dict[str, Path],
) -> None:
    fast = _encoder(tiny_models, FastPathSettings())
    plain = _encoder(tiny_models, FastPathSettings(packed_runs=False))
    for got, expected in zip(plain.run_batch(TEXTS), fast.run_batch(TEXTS), strict=True):
        assert isinstance(got, AttentionRun) and isinstance(expected, AttentionRun)
        assert list(got.blocks) == list(expected.blocks)
        for name, block in got.blocks.items():
            np.testing.assert_allclose(block, expected.blocks[name], atol=1e-5, rtol=0)
