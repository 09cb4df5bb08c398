"""Value norms ||f_h(x_j)|| = ||(x_j W_V + b_V) W_O^h||, read by hooks during a run, against
the same formula computed here from each model's hidden states and weights."""

from pathlib import Path

import numpy as np
import pytest
import torch

from app.attention.names import cross_attention, decoder_self_attention, encoder_self_attention
from app.zoo.base import Example, ModelInfo
from app.zoo.hf_adapter import HuggingFaceAdapter
from app.zoo.huggingface import load_huggingface

TEXT = "the cat sat on the mat"
TARGET = "i love apples"


def _adapter(tiny_models: dict[str, Path], kind: str) -> HuggingFaceAdapter:
    info = ModelInfo(kind, kind, "encoder", 0, 0, [], "", 0, [Example(TEXT)])
    return load_huggingface(tiny_models[kind], info, max_tokens=512)


def norms_by_formula(values: torch.Tensor, out_in: torch.Tensor, heads: int) -> np.ndarray:
    """values (n, kv_heads * d); out_in (heads * d, D), W_O as inputs x outputs."""
    d = out_in.shape[0] // heads
    groups = heads // (values.shape[1] // d)
    result = []
    for h in range(heads):
        kv = h // groups  # grouped-query attention: query head h reads key/value head h // g
        f = values[:, kv * d : (kv + 1) * d].double() @ out_in[h * d : (h + 1) * d].double()
        f = f.detach()
        result.append(f.norm(dim=-1).numpy())
    return np.array(result)  # (heads, n)


def _hidden(model: torch.nn.Module, ids: list[int], **extra: object) -> object:
    with torch.no_grad():
        return model(input_ids=torch.tensor([ids]), output_hidden_states=True, **extra)


def test_gpt2_reads_values_out_of_its_fused_projection(tiny_models: dict[str, Path]) -> None:
    adapter = _adapter(tiny_models, "gpt2")
    run = adapter.run(TEXT, TARGET, max_new_tokens=1)
    ids = adapter.tokenizer(TEXT + " " + TARGET)["input_ids"]
    out = _hidden(adapter.model, ids)
    width = adapter.model.config.n_embd
    for i, block in enumerate(adapter.model.transformer.h):
        with torch.no_grad():
            qkv = block.attn.c_attn(block.ln_1(out.hidden_states[i]))[0]  # type: ignore[attr-defined]
        expected = norms_by_formula(
            qkv[:, 2 * width :], block.attn.c_proj.weight, block.attn.num_heads
        )
        got = run.value_norms[decoder_self_attention(i)]  # type: ignore[index]
        assert np.allclose(got, expected, rtol=1e-4), i


def test_llama_maps_each_query_head_to_its_key_value_head(tiny_models: dict[str, Path]) -> None:
    adapter = _adapter(tiny_models, "llama")
    config = adapter.model.config
    assert config.num_key_value_heads < config.num_attention_heads
    run = adapter.run(TEXT, TARGET, max_new_tokens=1)
    ids = adapter.tokenizer(TEXT + " " + TARGET)["input_ids"]
    out = _hidden(adapter.model, ids)
    for i, layer in enumerate(adapter.model.model.layers):
        with torch.no_grad():
            values = layer.self_attn.v_proj(layer.input_layernorm(out.hidden_states[i]))[0]
        weight = layer.self_attn.o_proj.weight.t()
        expected = norms_by_formula(values, weight, config.num_attention_heads)
        got = run.value_norms[decoder_self_attention(i)]  # type: ignore[index]
        assert got.shape == (config.num_attention_heads, len(ids))
        assert np.allclose(got, expected, rtol=1e-4), i


def test_bart_cross_attention_values_come_from_the_encoder(tiny_models: dict[str, Path]) -> None:
    adapter = _adapter(tiny_models, "bart")
    run = adapter.run(TEXT, TARGET, max_new_tokens=1)
    source = adapter.tokenizer(TEXT)["input_ids"]
    emitted = adapter.tokenizer(text_target=TARGET)["input_ids"]
    decoder_input = [adapter.model.config.decoder_start_token_id, *emitted[:-1]]
    out = _hidden(adapter.model, source, decoder_input_ids=torch.tensor([decoder_input]))
    heads = adapter.info.heads
    for i, layer in enumerate(adapter.model.model.encoder.layers):
        with torch.no_grad():
            values = layer.self_attn.v_proj(out.encoder_hidden_states[i])[0]  # type: ignore[attr-defined]
        expected = norms_by_formula(values, layer.self_attn.out_proj.weight.t(), heads)
        assert np.allclose(run.value_norms[encoder_self_attention(i)], expected, rtol=1e-4)  # type: ignore[index]
    memory = out.encoder_last_hidden_state  # type: ignore[attr-defined]
    for i, layer in enumerate(adapter.model.model.decoder.layers):
        with torch.no_grad():
            cross_values = layer.encoder_attn.v_proj(memory)[0]
            self_values = layer.self_attn.v_proj(out.decoder_hidden_states[i])[0]  # type: ignore[attr-defined]
        cross = norms_by_formula(cross_values, layer.encoder_attn.out_proj.weight.t(), heads)
        mine = norms_by_formula(self_values, layer.self_attn.out_proj.weight.t(), heads)
        assert np.allclose(run.value_norms[cross_attention(i)], cross, rtol=1e-4)  # type: ignore[index]
        assert np.allclose(run.value_norms[decoder_self_attention(i)], mine, rtol=1e-4)  # type: ignore[index]


def test_models_without_a_known_value_path_offer_no_valuenorms_by_formula(
    tiny_models: dict[str, Path],
) -> None:
    adapter = _adapter(tiny_models, "t5")
    assert adapter.info.weightings == ["attention"]
    assert adapter.run(TEXT, None, max_new_tokens=2).value_norms is None


@pytest.mark.parametrize("kind", ["bert", "gpt2", "llama", "bart"])
def test_every_block_gets_norms_at_start_up(tiny_models: dict[str, Path], kind: str) -> None:
    adapter = _adapter(tiny_models, kind)
    assert adapter.info.weightings == ["attention", "value_norm"]
    run = adapter.run(TEXT, None, max_new_tokens=2)
    assert run.value_norms is not None and set(run.value_norms) == set(run.blocks)
    for name, norms in run.value_norms.items():
        assert norms.shape == (run.blocks[name].shape[0], run.blocks[name].shape[2])
        assert (norms > 0).all()
