"""Greedy generation by a decoder-only model, one token per forward pass, with the attention
row of every step.

Step t writes token t of the continuation. Its row is the attention of the position that
produced it, the last one read before writing it: position P + t - 1 for a prompt of P
tokens (the prompt's last token at step 0, the token written at step t - 1 after that),
over every earlier position 0 .. P + t - 1 (the prompt and what was written before step t).
Every layer and head: float32 [layers, heads, P + t], each row summing to 1. In a
teacher-forced run over the same tokens it is row P + t - 1 of each decoder.L.self_attn
block, up to its diagonal.

The first step reads the whole prompt: all but its last token in one pass that only fills
the model's key/value cache (no attention weights: at 2048 tokens they would be 4.5 GB), then
the last token with its weights. Each later step reads only the token just written while the
cache holds the rest, so a step costs one token's work.
"""

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from app.zoo.budget import writing_budget
from app.zoo.hf_tokens import HFTokens

StopReason = Literal["eos", "max_new_tokens", "max_tokens"]


@dataclass(frozen=True)
class StepToken:
    id: int
    text: str  # as a person reads it (see hf_tokens.display_token)
    special: bool


@dataclass(frozen=True)
class Step:
    index: int  # t: the token is the (t + 1)-th written
    token: StepToken
    rows: np.ndarray  # float32 [layers, heads, keys]: keys = prompt + tokens written before t
    stop: StopReason | None  # why the generation ends with this step; None if it goes on

    @property
    def query(self) -> int:
        """The position whose row this is: the last one read before writing the token."""
        return int(self.rows.shape[-1]) - 1


def eos_ids(model: Any) -> frozenset[int]:
    """The ids that end a generation, as model.generate() reads them."""
    config = getattr(model, "generation_config", None) or model.config
    eos = getattr(config, "eos_token_id", None)
    if eos is None:
        return frozenset()
    return frozenset([eos] if isinstance(eos, int) else eos)


class StepwiseGeneration:
    """One greedy generation from a prompt, advanced a step at a time by `step()`.

    Holds its own key/value cache; the model itself is only read. One caller steps it, one
    step after the other (the inference gate runs each on its thread).
    """

    def __init__(
        self,
        model: Any,
        tokens: HFTokens,
        prompt_ids: list[int],
        *,
        max_new_tokens: int,
        max_tokens: int,
        reading: Callable[[], AbstractContextManager[Any]] = nullcontext,
        prefilling: Callable[[], AbstractContextManager[Any]] = nullcontext,
    ) -> None:
        """`reading` is held around each pass that returns attention weights (the model must
        be on eager attention); `prefilling` around the pass that only fills the cache (it
        may switch to a faster kernel)."""
        self.model = model
        self.tokens = tokens
        self.prompt = [self._token(i) for i in prompt_ids]
        self.written: list[StepToken] = []
        self.stop: StopReason | None = None
        self.budget = writing_budget(len(prompt_ids), max_new_tokens, max_tokens)
        self._budget_reason: StopReason = (
            "max_new_tokens" if self.budget == max_new_tokens else "max_tokens"
        )
        self._eos = eos_ids(model)
        self._next_input = list(prompt_ids)  # what the next forward pass reads
        self._cache: Any = None
        self._reading = reading
        self._prefilling = prefilling

    def _token(self, token_id: int) -> StepToken:
        return StepToken(
            token_id, self.tokens.display(token_id), token_id in self.tokens.special_ids
        )

    def step(self) -> Step:
        """Write one token greedily and return it with its attention rows."""
        if self.stop is not None:
            raise RuntimeError("the generation has ended; there is no next step")
        if self._cache is None and len(self._next_input) > 1:
            with self._prefilling(), torch.inference_mode():
                # The base model: its cache, without logits nobody reads (400 MB at 2048).
                filled = self.model.base_model(
                    input_ids=torch.tensor([self._next_input[:-1]]), use_cache=True
                )
            self._cache = filled.past_key_values
            self._next_input = self._next_input[-1:]
        with self._reading(), torch.inference_mode():
            out = self.model(
                input_ids=torch.tensor([self._next_input]),
                past_key_values=self._cache,
                use_cache=True,
                output_attentions=True,
            )
        if not out.attentions:
            raise RuntimeError("the model returned no attention weights")
        # The last position read, over every position so far: [layers, heads, keys].
        rows = torch.stack([layer[0, :, -1, :] for layer in out.attentions]).float().numpy()
        token = self._token(int(out.logits[0, -1].argmax()))
        self.written.append(token)
        if token.id in self._eos:
            self.stop = "eos"
        elif len(self.written) == self.budget:
            self.stop = self._budget_reason
        if self.stop is None:
            self._cache = out.past_key_values
            self._next_input = [token.id]
        else:
            self._cache = None  # the cache is the one large thing a generation holds
        return Step(len(self.written) - 1, token, np.ascontiguousarray(rows), self.stop)

    def text(self) -> str:
        """What was written, as the tokenizer decodes it (special tokens left out)."""
        ids = [token.id for token in self.written]
        return str(self.tokens.tokenizer.decode(ids, skip_special_tokens=True))
