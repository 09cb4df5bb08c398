"""Linear layers on oneDNN (app/zoo/onednn.py): the same outputs as PyTorch's own, for any
number of rows (they are padded to a bucket and cut back), hooks still called, undone cleanly;
an adapter uses them only when asked."""

from pathlib import Path

import pytest
import torch
from torch import nn

from app.zoo import onednn
from app.zoo.base import Example, ModelInfo
from app.zoo.hf_encoder import HFEncoderAdapter
from app.zoo.huggingface import load_huggingface

pytestmark = pytest.mark.skipif(not onednn.available(), reason="this PyTorch has no oneDNN")


@pytest.mark.parametrize("shape", [(1, 48), (31, 48), (32, 48), (33, 48), (1, 77, 48), (2, 5, 48)])
def test_a_linear_layer_on_onednn_gives_pytorchs_outputs(shape: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    layer = nn.Linear(48, 40)
    x = torch.randn(*shape)
    with torch.inference_mode():
        expected = layer(x)
        onednn.use_onednn_linears(layer)
        got = layer(x)
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-5)


def test_hooks_still_see_every_call_and_the_default_comes_back() -> None:
    model = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 3, bias=False))
    seen: list[torch.Size] = []
    model[2].register_forward_hook(lambda module, args, out: seen.append(out.shape))
    x = torch.randn(5, 8)
    with torch.inference_mode():
        expected = model(x)
        onednn.use_onednn_linears(model)
        assert all("forward" in vars(model[i]) for i in (0, 2))
        torch.testing.assert_close(model(x), expected, rtol=0, atol=1e-5)
        onednn.use_default_linears(model)
        assert not any("forward" in vars(m) for m in model.modules())
        torch.testing.assert_close(model(x), expected, rtol=0, atol=0)
    assert seen == [torch.Size([5, 3])] * 3


def _linears_on_onednn(adapter: HFEncoderAdapter) -> list[bool]:
    return [
        "forward" in vars(module) for module in adapter.model.modules() if type(module) is nn.Linear
    ]


@pytest.mark.parametrize("onednn_linears", [True, False])
def test_an_encoder_runs_its_linears_on_onednn_only_when_asked(
    tiny_models: dict[str, Path], onednn_linears: bool
) -> None:
    info = ModelInfo("m", "m", "encoder", 0, 0, [], "", 0, [Example("the cat sat on the mat")])
    adapter = load_huggingface(
        tiny_models["bert"], info, max_tokens=64, onednn_linears=onednn_linears
    )
    assert isinstance(adapter, HFEncoderAdapter)
    assert adapter.packed
    flags = _linears_on_onednn(adapter)
    assert flags and all(flag is onednn_linears for flag in flags)


def test_an_encoder_whose_onednn_setup_fails_still_loads_on_the_default_kernels(
    tiny_models: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The private oneDNN operators may change with PyTorch: failing, they cost the speed-up,
    not the model."""

    def broken(model: nn.Module) -> None:
        raise RuntimeError("no such operator")

    monkeypatch.setattr(onednn, "use_onednn_linears", broken)
    info = ModelInfo("m", "m", "encoder", 0, 0, [], "", 0, [Example("the cat sat on the mat")])
    adapter = load_huggingface(tiny_models["bert"], info, max_tokens=64)
    assert isinstance(adapter, HFEncoderAdapter)
    assert not adapter.packed
    assert not any(_linears_on_onednn(adapter))
    (run,) = adapter.run_batch(["still served"])
    assert run.blocks  # type: ignore[union-attr]
