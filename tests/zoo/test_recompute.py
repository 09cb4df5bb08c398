"""A Llama layer's attention computed from its input equals what eager attention returns."""

from pathlib import Path

import numpy as np
import torch

from app.attention.names import decoder_self_attention
from app.zoo.base import Example, ModelInfo
from app.zoo.huggingface import load_huggingface

TEXT = "the cat sat on the mat because it was tired"


def test_computed_llama_blocks_equal_eager_attention(tiny_models: dict[str, Path]) -> None:
    info = ModelInfo("llama", "llama", "decoder", 0, 0, [], "", 0, [Example(TEXT)])
    adapter = load_huggingface(tiny_models["llama"], info, max_tokens=64)
    run = adapter.run(TEXT, "i love apples", max_new_tokens=1)
    assert run.computed
    ids = adapter.tokenizer(TEXT + " i love apples")["input_ids"]
    with torch.no_grad():
        eager = adapter.model(input_ids=torch.tensor([ids]), output_attentions=True).attentions
    for layer, expected in enumerate(eager):
        name = decoder_self_attention(layer)
        assert np.abs(run.blocks[name] - expected[0].numpy()).max() <= 1e-6
        # One head alone is the same row set as that head among all of them.
        assert np.abs(run.block(name, [3]) - expected[0, [3]].numpy()).max() <= 1e-6
    # The model is back on eager attention for whoever needs its weights next.
    assert adapter.model.config._attn_implementation == "eager"


def test_a_computed_run_keeps_layer_inputs_not_matrices(tiny_models: dict[str, Path]) -> None:
    info = ModelInfo("llama", "llama", "decoder", 0, 0, [], "", 0, [Example(TEXT)])
    adapter = load_huggingface(tiny_models["llama"], info, max_tokens=64)
    run = adapter.run(TEXT, None, max_new_tokens=3)
    length = len(run.target)
    layers, width = adapter.model.config.num_hidden_layers, adapter.model.config.hidden_size
    assert run.size_bytes < layers * width * length * 4 + 10_000  # inputs, norms and texts
