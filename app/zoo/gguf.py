"""A GGUF file turned, once, into a Hugging Face folder that loads in seconds.

transformers reads GGUF (through the `gguf` package) by dequantizing every tensor to float32,
which takes about 20 s for SmolLM2-135M. That is done on the first start only: the result is
saved as safetensors under the cache folder and later starts load that folder. The attention
shown is that of the dequantized weights, exactly as transformers computes it from the file.
"""

import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def dequantized_folder(gguf_path: Path, cache_dir: Path) -> Path:
    """The cached Hugging Face folder of `gguf_path`, made on first use.

    The folder is named after the file and its size, so a new release of the file gets a new
    folder. Two processes starting at once each build into a temporary folder; the first to
    finish renames it into place and the other's is discarded.
    """
    folder = cache_dir / f"{gguf_path.stem}-{gguf_path.stat().st_size}"
    if folder.is_dir():  # only ever renamed into place whole
        return folder
    cache_dir.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=cache_dir))
    try:
        log.info("dequantizing %s into %s (first start only)", gguf_path.name, folder)
        _convert(gguf_path, building)
        building.chmod(0o755)  # mkdtemp makes it private; the cache is for every user of it
        try:
            building.rename(folder)
        except OSError:
            if not folder.is_dir():
                raise
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return folder


def _convert(gguf_path: Path, out: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf_path.parent), gguf_path.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, local_files_only=True)
    # The weights are plain float32 by now, but the model still says it is GGUF-quantized and
    # refuses to be saved until that note is removed.
    quantizer: Any = getattr(model, "hf_quantizer", None)
    if quantizer is not None:
        quantizer.remove_quantization_config(model)
    tokenizer.save_pretrained(out)
    model.save_pretrained(out)
