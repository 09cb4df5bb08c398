"""Loads any local Hugging Face model folder into the adapter of its family: encoder
(hf_encoder.py), decoder (hf_decoder.py) or encoder-decoder (hf_encoder_decoder.py)."""

from dataclasses import replace
from pathlib import Path
from typing import Any

from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForCausalLM,
    AutoModelForSeq2SeqLM,
    AutoTokenizer,
    PretrainedConfig,
)

from app.attention.analysis import AGGREGATES
from app.zoo import onednn
from app.zoo.base import Family, ModelInfo, files_under
from app.zoo.cancel import stop_between_layers
from app.zoo.flops import ComputeShape, matrix_weights
from app.zoo.hf_adapter import HuggingFaceAdapter, layer_counts
from app.zoo.hf_decoder import HFDecoderAdapter
from app.zoo.hf_encoder import HFEncoderAdapter, bert_self_attention
from app.zoo.hf_encoder_decoder import HFEncoderDecoderAdapter
from app.zoo.value_norms import huggingface_value_sites

ADAPTERS: dict[Family, type[HuggingFaceAdapter]] = {
    "encoder": HFEncoderAdapter,
    "decoder": HFDecoderAdapter,
    "encoder-decoder": HFEncoderDecoderAdapter,
}


def detect_family(config: PretrainedConfig) -> Family:
    if getattr(config, "is_encoder_decoder", False):
        return "encoder-decoder"
    architectures = config.architectures or []
    if getattr(config, "is_decoder", False) or any(
        a.endswith(("ForCausalLM", "LMHeadModel")) for a in architectures
    ):
        return "decoder"
    return "encoder"


def _head_count(config: PretrainedConfig) -> int:
    return int(config.num_attention_heads)


def _position_limit(config: PretrainedConfig, tokenizer: Any) -> int | None:
    limits = [
        getattr(config, "max_position_embeddings", None),
        getattr(config, "n_positions", None),
    ]
    model_max = getattr(tokenizer, "model_max_length", None)
    # Tokenizers with no declared limit report a huge sentinel (int(1e30)).
    if isinstance(model_max, int) and model_max < 1_000_000:
        limits.append(model_max)
    known = [int(limit) for limit in limits if isinstance(limit, int) and limit > 0]
    return min(known) if known else None


def _load_model(path: Path, family: Family, model_id: str) -> Any:
    loader: Any = {
        "encoder": AutoModel,
        "decoder": AutoModelForCausalLM,
        "encoder-decoder": AutoModelForSeq2SeqLM,
    }[family]
    # The default SDPA kernels return no attention weights at all, silently: ask for eager.
    model = loader.from_pretrained(str(path), attn_implementation="eager", local_files_only=True)
    if model.config._attn_implementation != "eager":
        raise RuntimeError(f"{path}: eager attention was not enabled; attention would be empty")
    model.eval()
    stop_between_layers(model, model_id)
    return model


def _compute_shape(model: Any, config: PretrainedConfig, family: Family) -> ComputeShape:
    heads = _head_count(config)
    head_size = getattr(config, "head_dim", None) or config.hidden_size // heads
    output = model.get_output_embeddings() if family == "decoder" else None
    return ComputeShape(
        weights=matrix_weights(model),
        layers=sum(layer_counts(config, family)),
        attention_width=heads * head_size,
        vocabulary_width=output.weight.numel() if output is not None else 0,
    )


def load_huggingface(
    path: Path,
    info: ModelInfo,
    max_tokens: int,
    *,
    packed_runs: bool = True,
    onednn_linears: bool = True,
) -> HuggingFaceAdapter:
    """Load a model folder; `info` supplies names and texts, the folder supplies the family
    and shape. An encoder tries its fast path (app/zoo/fast_path.py) if `packed_runs`, with
    its linear layers on oneDNN if `onednn_linears` too (ATTN_PACKED_RUNS,
    ATTN_ONEDNN_LINEARS)."""
    config = AutoConfig.from_pretrained(str(path), local_files_only=True)
    family = detect_family(config)
    tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    model = _load_model(path, family, info.id)
    encoder_layers, decoder_layers = layer_counts(config, family)
    limit = _position_limit(config, tokenizer)
    info = replace(
        info,
        family=family,
        layers=max(encoder_layers, decoder_layers),
        heads=_head_count(config),
        kv_heads=int(getattr(config, "num_key_value_heads", None) or _head_count(config)),
        max_tokens=min(limit, max_tokens) if limit else max_tokens,
        explainable=family == "encoder" and bert_self_attention(model, 0) is not None,
        # Rollout composes one stack's self-attention; see app/attention/ops/rollout.py.
        aggregates=["none", "heads"] if family == "encoder-decoder" else list(AGGREGATES),
    )
    adapter = ADAPTERS[family](info, model, tokenizer, huggingface_value_sites(model))
    adapter.weight_files = files_under(path)
    adapter.compute = _compute_shape(model, config, family)
    if packed_runs and isinstance(adapter, HFEncoderAdapter):
        adapter.try_fast_path(onednn_linears=onednn_linears and onednn.available())
    adapter.self_test()
    return adapter
