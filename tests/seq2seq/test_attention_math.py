"""Recompute every attention matrix from the modules' own parameters, independently of
the model code, and compare (minGPT-style torch.allclose checks)."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from torch import nn

from app.seq2seq.bahdanau import AdditiveAttention, BahdanauConfig, BahdanauTranslator
from app.seq2seq.base import Seq2SeqModel
from app.seq2seq.luong import SCORES, LuongAttention, LuongConfig, LuongTranslator
from app.seq2seq.transformer import MultiHeadAttention, Transformer, TransformerConfig

SOURCE = torch.tensor([[5, 6, 7, 8, 3], [9, 10, 3, 0, 0]])  # (B, S): second one padded
SOURCE_MASK = SOURCE != 0
TARGET_IN = torch.tensor([[2, 4, 5, 6], [2, 7, 8, 0]])  # (B, T)
VOCAB = {"source_vocab_size": 12, "target_vocab_size": 10}


def capture(model: nn.Module, kind: type[nn.Module]) -> list[tuple[nn.Module, Any, Any]]:
    """(module, inputs, outputs) of every call to a module of `kind` during forward."""
    calls: list[tuple[nn.Module, Any, Any]] = []
    for module in model.modules():
        if isinstance(module, kind):
            module.register_forward_hook(lambda m, args, out: calls.append((m, args, out)))
    return calls


def softmax_over_allowed(scores: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
    exp = torch.exp(scores - scores.max()) * allowed
    return exp / exp.sum(dim=-1, keepdim=True)


def run(model: Seq2SeqModel) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    model.eval()
    with torch.no_grad():
        _, blocks = model(SOURCE, SOURCE_MASK, TARGET_IN)
    return {str(name): weights for name, weights in blocks.items()}


def test_transformer_attention_is_softmax_of_scaled_query_key_products() -> None:
    torch.manual_seed(0)
    config = TransformerConfig(
        **VOCAB, d_model=12, heads=3, encoder_layers=2, decoder_layers=2, d_ff=16
    )
    model = Transformer(config)
    calls = capture(model, MultiHeadAttention)
    blocks = run(model)
    assert len(calls) == 2 + 2 * 2
    head_size = config.d_model // config.heads
    for module, (queries, keys, mask), (_, weights) in calls:
        assert isinstance(module, MultiHeadAttention)
        q = queries @ module.W_q.weight.t() + module.W_q.bias  # (B, Tq, D)
        k = keys @ module.W_k.weight.t() + module.W_k.bias  # (B, Tk, D)
        expected = torch.zeros_like(weights)
        for h in range(config.heads):
            part = slice(h * head_size, (h + 1) * head_size)
            scores = torch.einsum("bid,bjd->bij", q[..., part], k[..., part])
            allowed = torch.broadcast_to(mask, weights.shape)[:, h]
            expected[:, h] = softmax_over_allowed(scores / math.sqrt(head_size), allowed)
        assert torch.allclose(weights, expected, atol=1e-6)
    names = [f"encoder.{i}.self_attn" for i in range(2)] + [
        f"decoder.{i}.{kind}" for i in range(2) for kind in ("self_attn", "cross_attn")
    ]
    assert list(blocks) == names
    for name, (_, _, (_, weights)) in zip(names, calls, strict=True):
        assert torch.equal(blocks[name], weights)
    for i in range(2):
        assert blocks[f"decoder.{i}.self_attn"].triu(diagonal=1).abs().max() == 0
        assert blocks[f"decoder.{i}.cross_attn"][1, :, :, 3:].abs().max() == 0
        assert blocks[f"encoder.{i}.self_attn"][1, :, :, 3:].abs().max() == 0


def test_bahdanau_weights_are_softmax_of_additive_scores() -> None:
    torch.manual_seed(0)
    model = BahdanauTranslator(
        BahdanauConfig(**VOCAB, embed_dim=6, encoder_hidden=5, decoder_hidden=7, attention_dim=4)
    )
    calls = capture(model, AdditiveAttention)
    blocks = run(model)
    cross = blocks["decoder.0.cross_attn"]  # (B, 1, T, S)
    assert cross.shape == (2, 1, TARGET_IN.size(1), SOURCE.size(1))
    assert len(calls) == TARGET_IN.size(1)
    for t, (module, (query, _, values, mask), (_, weights)) in enumerate(calls):
        assert isinstance(module, AdditiveAttention)
        scores = torch.zeros(SOURCE.shape)
        for b in range(SOURCE.size(0)):
            for j in range(SOURCE.size(1)):
                hidden = torch.tanh(module.W_q.weight @ query[b] + module.W_k.weight @ values[b, j])
                scores[b, j] = module.w_v.weight[0] @ hidden
        assert torch.allclose(weights, softmax_over_allowed(scores, mask), atol=1e-6)
        assert torch.equal(cross[:, 0, t], weights)
    assert cross[1, 0, :, 3:].abs().max() == 0


@pytest.mark.parametrize("score", SCORES)
def test_luong_weights_are_softmax_of_their_score_function(score: str) -> None:
    torch.manual_seed(0)
    model = LuongTranslator(
        LuongConfig(**VOCAB, score=score, embed_dim=6, encoder_hidden=4, attention_dim=5)
    )
    calls = capture(model, LuongAttention)
    blocks = run(model)
    ((module, (queries, memory, mask), (_, weights)),) = calls
    assert isinstance(module, LuongAttention)
    batch, steps, keys = weights.shape
    scores = torch.zeros(batch, steps, keys)
    for b in range(batch):
        for t in range(steps):
            for j in range(keys):
                h_t, h_s = queries[b, t], memory[b, j]
                if score == "dot":
                    scores[b, t, j] = h_t @ h_s / math.sqrt(h_t.numel())
                elif score == "general":
                    scores[b, t, j] = h_t @ module.W_a.weight @ h_s / math.sqrt(h_t.numel())
                else:
                    features = torch.tanh(module.W_a.weight @ torch.cat([h_t, h_s]))
                    scores[b, t, j] = module.v_a.weight[0] @ features
    expected = softmax_over_allowed(scores, mask.unsqueeze(1).expand(-1, steps, -1))
    assert torch.allclose(weights, expected, atol=1e-6)
    assert torch.equal(blocks["decoder.0.cross_attn"][:, 0], weights)


SMALL_MODELS = {
    "bahdanau": lambda: BahdanauTranslator(
        BahdanauConfig(**VOCAB, embed_dim=6, encoder_hidden=5, decoder_hidden=7, attention_dim=4)
    ),
    "bahdanau-no-eos-key": lambda: BahdanauTranslator(
        BahdanauConfig(
            **VOCAB,
            embed_dim=6,
            encoder_hidden=5,
            decoder_hidden=7,
            attention_dim=4,
            attend_to_eos=False,
            lexical_gate=True,
        )
    ),
    "luong": lambda: LuongTranslator(LuongConfig(**VOCAB, embed_dim=6, encoder_hidden=4)),
    "luong-lexical": lambda: LuongTranslator(
        LuongConfig(**VOCAB, embed_dim=6, encoder_hidden=4, lexical_shortcut=True)
    ),
    "transformer": lambda: Transformer(TransformerConfig(**VOCAB, d_model=8, heads=2, d_ff=8)),
}


@pytest.mark.parametrize("name", list(SMALL_MODELS))
def test_step_by_step_decoding_matches_the_teacher_forced_pass(name: str) -> None:
    torch.manual_seed(0)
    model = SMALL_MODELS[name]()
    model.eval()
    with torch.no_grad():
        logits, blocks = model(SOURCE, SOURCE_MASK, TARGET_IN)  # (B, T, V)
        state = model.start(SOURCE, SOURCE_MASK)
        for t in range(TARGET_IN.size(1)):
            step_logits, state = model.step(state, TARGET_IN[:, : t + 1])
            assert torch.allclose(step_logits, logits[:, t], atol=1e-5)
    for weights in blocks.values():
        assert torch.allclose(weights.sum(dim=-1), torch.ones(weights.shape[:-1]), atol=1e-5)


def test_bahdanau_can_keep_its_attention_off_the_end_of_sentence_key() -> None:
    torch.manual_seed(0)
    cross = run(SMALL_MODELS["bahdanau-no-eos-key"]())["decoder.0.cross_attn"]  # (B, 1, T, S)
    eos = SOURCE == 3  # </s>
    assert cross[0, 0][:, eos[0]].abs().max() == 0 and cross[1, 0][:, eos[1]].abs().max() == 0
    assert torch.allclose(cross.sum(dim=-1), torch.ones(cross.shape[:-1]), atol=1e-5)
