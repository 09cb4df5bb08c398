"""An encoder's fast path: its texts packed into one row (app/zoo/packing.py), its linear
layers on oneDNN (app/zoo/onednn.py), both turned on only after a start-up check shows that
the model's packed weights are its own.

Settings decide whether it is tried at all (ATTN_PACKED_RUNS, ATTN_ONEDNN_LINEARS in
app/settings.py); nothing here happens on import: registering with transformers and replacing
the linear layers' forward happen for a model as it loads.
"""

import inspect
import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from app.attention.names import BlockName
from app.zoo import onednn, packing
from app.zoo.value_norms import ValueSites, reading_batch_value_norms

log = logging.getLogger(__name__)


class EncoderFastPath:
    """Runs texts of one encoder model packed, up to its last layer's attention."""

    def __init__(self, model: Any, layers: int) -> None:
        self.model = model
        self.layers = layers
        self._takes_token_types = "token_type_ids" in inspect.signature(model.forward).parameters

    @classmethod
    def checked(
        cls,
        model: Any,
        layers: int,
        examples: Sequence[Sequence[int]],
        *,
        onednn_linears: bool,
        model_id: str,
    ) -> "EncoderFastPath | None":
        """The fast path for `model` (with `layers` layers), its linear layers on oneDNN if
        `onednn_linears`, if the model calls its attention through the registry, takes
        position ids, and its packed weights for the `examples` (token ids; two texts of
        different lengths), run together, match within 1e-5 the weights its unchanged self
        gives each alone. Otherwise None, and the model is left as it was: padded batches
        and the default kernels."""
        if (
            "position_ids" not in inspect.signature(model.forward).parameters
            or not model._can_set_attn_implementation()
        ):
            return None
        with torch.inference_mode():
            alone = [
                model(input_ids=torch.tensor([list(ids)]), output_attentions=True).attentions
                for ids in examples
            ]
        packing.register()
        model.set_attn_implementation(packing.PACKED_ATTENTION)
        fast_path = cls(model, layers)
        try:
            if onednn_linears:
                onednn.use_onednn_linears(model)
            weights, _ = fast_path.attention(examples, None)
            matches = all(
                np.allclose(
                    weights[layer][text, :, : len(ids), : len(ids)].numpy(),
                    own[0].numpy(),
                    rtol=0,
                    atol=1e-5,
                )
                for text, (ids, attentions) in enumerate(zip(examples, alone, strict=True))
                for layer, own in enumerate(attentions)
            )
        except Exception:  # a model this does not fit: fall back, do not fail to load
            log.exception("%s: packed runs failed; batches are padded", model_id)
            matches = False
        if not matches:
            log.warning("%s: packed weights differ from eager; batches are padded", model_id)
            model.set_attn_implementation("eager")
            onednn.use_default_linears(model)
            return None
        kernels = "oneDNN" if onednn_linears else "PyTorch's default"
        log.info("%s: texts run packed, linear layers on %s kernels", model_id, kernels)
        return fast_path

    def attention(
        self, sequences: Sequence[Sequence[int]], value_sites: ValueSites | None
    ) -> tuple[list[torch.Tensor], list[dict[BlockName, np.ndarray]]]:
        """The texts' token ids packed into one row, with no padding: per layer, every text's
        weights (texts, heads, longest, longest), text b's own at [b, :, :n_b, :n_b]; and
        each text's value norms."""
        row = packing.pack(sequences)
        cuts = [
            (0, slice(start, start + n)) for start, n in zip(row.starts, row.lengths, strict=True)
        ]
        with (
            torch.inference_mode(),
            reading_batch_value_norms(value_sites, cuts) as norms,
            packing.reading_packed(row, self.layers) as weights,
        ):
            self.model(
                input_ids=row.input_ids,
                position_ids=row.position_ids,
                **({"token_type_ids": row.token_type_ids} if self._takes_token_types else {}),
            )
        return weights, norms
