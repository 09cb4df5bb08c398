"""What a model's forward passes cost, in floating-point operations, known before they run.

The inference gate (app/api/inference.py) schedules by these estimates: work estimated
cheap runs in the gaps of long runs, and each client's queued work is bounded by its sum.
They count the multiplications of a transformer's matrices, the only work that grows with
the input; norms, activations and softmax are a few percent and left out.

For a pass that reads n new tokens, each of which attends to `keys` positions:

    2 · W · n  +  4 · A · L · n · keys  +  R · W

- W: the weights a token passes through (every weight matrix of the model but the token
  embeddings and the output projection to the vocabulary); 2 operations (a multiply and an
  add) per weight and token.
- A: heads × head size, the width of attention; per layer, each (query, key) pair costs
  2 · A for its score and 2 · A for its share of the weighted sum. L: the attention layers.
- R · W: every pass reads every weight from memory once, whatever its length, and that
  takes time the operations do not count: R = WEIGHT_READ operations' worth per weight. It
  is what makes writing one token at a time dear: each of SmolLM2's one-token passes reads
  its 425 MB of weights for 0.2 GFLOP of arithmetic. Texts batched into one pass pay it once.

A decoder writing also turns one position per written token into logits: 2 · V operations,
V = model width × vocabulary.
"""

from dataclasses import dataclass

from torch import nn

GIGA = 1e9

# Measured on this project's 2-core machine: a one-token pass of SmolLM2 (106 million
# weights) takes about 50 ms, while long passes run at about 130 GFLOP/s: about 6.5 GFLOP's
# worth of time, 60 operations a weight. 50 leaves out the pass's own arithmetic and Python.
WEIGHT_READ = 50


@dataclass(frozen=True)
class ComputeShape:
    """The sizes a model's cost is estimated from (see the module's docstring)."""

    weights: int  # W: weights each token passes through
    layers: int  # L: attention layers in one pass
    attention_width: int  # A: heads × head size
    vocabulary_width: int = 0  # V: model width × vocabulary, for a decoder's logits

    @property
    def weight_read(self) -> float:
        """Operations' worth of one pass reading every weight (R · W): what a batch of texts
        run in one pass pays once."""
        return float(WEIGHT_READ * self.weights)

    def forward(self, tokens: int, keys: int | None = None) -> float:
        """Operations of one pass reading `tokens` new tokens, each attending to `keys`
        positions (itself and the earlier ones; `tokens` when not given)."""
        keys = tokens if keys is None else keys
        return (
            2.0 * self.weights * tokens
            + 4.0 * self.attention_width * self.layers * tokens * keys
            + self.weight_read
        )

    def generation(self, prompt: int, new_tokens: int) -> float:
        """Operations of writing `new_tokens` greedily after a `prompt`: one pass over the
        prompt, then one pass per further token over everything before it, with logits for
        each token written."""
        steps = sum(self.forward(1, prompt + t) for t in range(1, new_tokens))
        return self.forward(prompt) + steps + 2.0 * self.vocabulary_width * new_tokens


def matrix_weights(model: nn.Module) -> int:
    """W: the weights of every matrix of `model` (parameters of two or more dimensions),
    less its token embeddings and its output projection to the vocabulary (a lookup, and
    logits counted apart). A weight shared by two modules counts once."""
    skipped = {id(m.weight) for m in model.modules() if isinstance(m, nn.Embedding)}
    output = getattr(model, "get_output_embeddings", lambda: None)()
    if output is not None:
        skipped.add(id(output.weight))
    return sum(p.numel() for p in model.parameters() if p.dim() >= 2 and id(p) not in skipped)
