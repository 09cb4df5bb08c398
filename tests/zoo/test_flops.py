"""The cost estimates the inference gate schedules by: what they count, checked by hand on
small modules, and on the real shapes read at load."""

import pytest
import torch

from app.zoo.flops import WEIGHT_READ, ComputeShape, matrix_weights


class TinyDecoder(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = torch.nn.Embedding(10, 4)
        self.up = torch.nn.Linear(4, 8)
        self.down = torch.nn.Linear(8, 4, bias=False)
        self.norm = torch.nn.LayerNorm(4)
        self.lm_head = torch.nn.Linear(4, 10, bias=False)
        self.lm_head.weight = self.embed.weight  # tied, as SmolLM2's

    def get_output_embeddings(self) -> torch.nn.Module:
        return self.lm_head


def test_matrix_weights_leave_out_embeddings_output_projection_biases_and_norms() -> None:
    assert matrix_weights(TinyDecoder()) == 4 * 8 + 8 * 4


def test_a_pass_counts_weights_attention_pairs_and_one_read_of_the_weights() -> None:
    shape = ComputeShape(weights=1000, layers=2, attention_width=8, vocabulary_width=50)
    assert shape.forward(3) == 2 * 1000 * 3 + 4 * 8 * 2 * 3 * 3 + WEIGHT_READ * 1000
    assert shape.forward(1, keys=7) == 2 * 1000 + 4 * 8 * 2 * 7 + WEIGHT_READ * 1000
    # Writing one token: the prompt's pass and the token's logits; each further token is
    # one more pass over everything before it.
    assert shape.generation(5, 1) == shape.forward(5) + 2 * 50
    assert shape.generation(5, 3) == pytest.approx(
        shape.forward(5) + shape.forward(1, 6) + shape.forward(1, 7) + 2 * 50 * 3
    )
