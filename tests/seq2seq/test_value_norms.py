"""The Transformer translator's value norms, read by hooks on its own W_v, against the
formula computed here from its layers."""

import numpy as np
import torch

from app.attention.names import cross_attention, decoder_self_attention, encoder_self_attention
from app.seq2seq.translator import Translator
from app.zoo.value_norms import reading_value_norms, transformer_translator_sites
from tests.zoo.test_value_norms import norms_by_formula


def test_transformer_translator_norms_follow_its_own_projections(
    tiny_translators: dict[str, Translator],
) -> None:
    translator = tiny_translators["transformer"]
    model = translator.model
    reading = translator.read("我喜欢茶。", "He likes tea.")
    sites = transformer_translator_sites(model)
    with reading_value_norms(sites) as norms:
        translator.attention_run(reading)
    source = torch.tensor([reading.source_ids])
    target_in = torch.tensor([[translator.target_vocab.bos_id, *reading.target_ids[:-1]]])
    mask = torch.ones_like(source, dtype=torch.bool)
    heads = model.config.heads
    with torch.no_grad():
        memory, _ = model.encode(source, mask)
        x = model.embed(model.source_embed, source)
        y = model.embed(model.target_embed, target_in)
        first, first_decoder = model.encoder_layers[0], model.decoder_layers[0]
        encoder_values = first.self_attn.W_v(first.norm_attn(x))[0]
        self_values = first_decoder.self_attn.W_v(first_decoder.norm_self(y))[0]
        cross_values = first_decoder.cross_attn.W_v(memory)[0]
    checks = [
        (encoder_self_attention(0), encoder_values, first.self_attn.W_o),
        (decoder_self_attention(0), self_values, first_decoder.self_attn.W_o),
        (cross_attention(0), cross_values, first_decoder.cross_attn.W_o),
    ]
    for name, values, out in checks:
        expected = norms_by_formula(values, out.weight.t(), heads)
        assert np.allclose(norms[name], expected, rtol=1e-4), name
