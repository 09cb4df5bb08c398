"""A trained model on disk: config.json, vocab.json and model.safetensors (fp16).

A family whose checkpoints differ by a variant (Luong: one per score function) keeps one
such folder per variant under the model folder: models/luong-zh-en/general/config.json.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from app.seq2seq.base import Seq2SeqModel
from app.seq2seq.families import FAMILIES, build_model, family_of, make_config
from app.seq2seq.spec import ModelConfig, Variants
from app.seq2seq.vocab import Vocab

CONFIG_FILE = "config.json"
VOCAB_FILE = "vocab.json"
WEIGHTS_FILE = "model.safetensors"
TRAINING_FILE = "training.json"
METRICS_FILE = "metrics.json"


@dataclass
class Checkpoint:
    model: Seq2SeqModel
    config: ModelConfig
    source_vocab: Vocab
    target_vocab: Vocab
    data: dict[str, Any]  # how the training data was prepared and split
    variant: str | None = None


def variant_names(model_dir: Path) -> list[str]:
    """Variant folders of a model folder, in the order their family lists its variants
    (Luong: dot, general, concat); empty when the folder holds a single checkpoint."""
    if (model_dir / CONFIG_FILE).is_file():
        return []
    names = sorted(p.name for p in model_dir.iterdir() if (p / CONFIG_FILE).is_file())
    declared = _family_variants(model_dir / names[0]) if names else None
    known = [name for name in declared.names if name in names] if declared else []
    return known + [name for name in names if name not in known]


def default_variant(model_dir: Path, names: list[str]) -> str:
    """The variant of a model folder a caller gets without naming one, among its `names`
    (variant_names): the family's default when it was trained, else the first."""
    declared = _family_variants(model_dir / names[0])
    return declared.default if declared and declared.default in names else names[0]


def _family_variants(checkpoint_dir: Path) -> Variants | None:
    family = FAMILIES.get(read_json(checkpoint_dir / CONFIG_FILE)["family"])
    return family.variants if family else None


def save_checkpoint(directory: Path, checkpoint: Checkpoint) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    config = {
        "family": family_of(checkpoint.config),
        "variant": checkpoint.variant,
        "model": asdict(checkpoint.config),
        "data": checkpoint.data,
    }
    write_json(directory / CONFIG_FILE, config)
    write_json(
        directory / VOCAB_FILE,
        {"source": checkpoint.source_vocab.tokens, "target": checkpoint.target_vocab.tokens},
    )
    weights = {
        name: tensor.detach().to(torch.float16).contiguous()
        for name, tensor in checkpoint.model.state_dict().items()
    }
    save_file(weights, str(directory / WEIGHTS_FILE))


def load_checkpoint(directory: Path) -> Checkpoint:
    """Load a checkpoint folder into an eval-mode float32 model."""
    for name in (CONFIG_FILE, VOCAB_FILE, WEIGHTS_FILE):
        if not (directory / name).is_file():
            raise FileNotFoundError(f"{directory} has no {name}: not a trained model folder")
    config_json = read_json(directory / CONFIG_FILE)
    vocab_json = read_json(directory / VOCAB_FILE)
    config = make_config(config_json["family"], config_json["model"])
    model = build_model(config)
    weights = {name: t.float() for name, t in load_file(str(directory / WEIGHTS_FILE)).items()}
    model.load_state_dict(weights)
    model.eval()
    return Checkpoint(
        model=model,
        config=config,
        source_vocab=Vocab(vocab_json["source"]),
        target_vocab=Vocab(vocab_json["target"]),
        data=config_json["data"],
        variant=config_json.get("variant"),
    )


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def write_json(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
