"""A model's linear layers through oneDNN's kernels instead of PyTorch's default BLAS.

PyTorch's CPU build multiplies a Linear layer's matrices with MKL by default. On the
project's AMD EPYC machine MKL runs its AVX2 code and reaches about 160-180 GFLOP/s on 2
cores; oneDNN, which PyTorch also ships (its `mkldnn` operators, the ones torch.compile uses
on CPU), picks the CPU's AVX-512 kernels and reaches about 410 (MiniLM's layers, 400 tokens).
At 30 tokens a layer is 1.7-2.8x faster, at 400 tokens 2.3-2.7x; the results differ from
MKL's by float32 rounding (about 2e-6 on outputs of size 20).

Each nn.Linear keeps its weight as it is (value norms, explain and anything else that reads
it see no change) and gets a copy laid out for oneDNN; its forward calls oneDNN with that
copy. Forward hooks still see every call. Nothing is patched on import: an encoder turns
this on for its own model only, together with a start-up check of the model's attention
against its unchanged self (app/zoo/fast_path.py).
"""

from functools import partial

import torch
from torch import nn
from torch.nn import functional as F


def available() -> bool:
    return bool(torch.backends.mkldnn.is_available())


# oneDNN builds (and caches) a kernel for each shape it is given, which costs about as much as
# the multiplication itself. Rows are padded to a multiple of this so that the texts' many
# lengths share a few dozen shapes; the padding rows are computed and dropped.
ROW_BUCKET = 32
# Kernels for up to this many rows are built at start-up, so that the first requests do not
# pay for them: 16 texts of 60 tokens, packed (app/zoo/packing.py). Longer ones are built
# on first use.
WARM_ROWS = 1024


def _linear(weight: torch.Tensor, bias: torch.Tensor | None, x: torch.Tensor) -> torch.Tensor:
    rows = x.reshape(-1, x.shape[-1])
    padding = -rows.shape[0] % ROW_BUCKET
    if padding:
        rows = F.pad(rows, (0, 0, 0, padding))
    out = torch.ops.mkldnn._linear_pointwise(rows, weight, bias, "none", [], "")
    return out[: out.shape[0] - padding].reshape(*x.shape[:-1], out.shape[-1])


@torch.no_grad()
def use_onednn_linears(model: nn.Module) -> None:
    """Route every float32 nn.Linear of `model` through oneDNN."""
    for module in model.modules():
        if type(module) is nn.Linear and module.weight.dtype == torch.float32:
            packed = torch.ops.mkldnn._reorder_linear_weight(module.weight.detach(), None)
            bias = None if module.bias is None else module.bias.detach()
            module.forward = partial(_linear, packed, bias)  # type: ignore[method-assign]
    _build_kernels(model)


@torch.inference_mode()
def _build_kernels(model: nn.Module) -> None:
    """Run each shape of linear layer once per bucket of rows up to WARM_ROWS: oneDNN keeps
    the kernels it builds, keyed by shape, for the process (not by weight: layers of one
    shape share them)."""
    shapes = {
        (m.in_features, m.out_features, m.bias is not None): m
        for m in model.modules()
        if type(m) is nn.Linear and "forward" in vars(m)
    }
    for module in shapes.values():
        for rows in range(ROW_BUCKET, WARM_ROWS + 1, ROW_BUCKET):
            module.forward(torch.zeros(rows, module.in_features))  # no hooks


def use_default_linears(model: nn.Module) -> None:
    """Undo use_onednn_linears: the class's own forward again."""
    for module in model.modules():
        if type(module) is nn.Linear and "forward" in vars(module):
            del module.forward
