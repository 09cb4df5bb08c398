"""The fast path's process-wide settings, put into the environment as a server starts.

Both are read by native libraries from the environment, not from Python:

- GNU OpenMP (libgomp, PyTorch's thread pool here) reads GOMP_SPINCOUNT once, in its
  constructor, when the library is loaded, and `import torch` loads it. Set after that, even
  before torch's first parallel region, the variable changes nothing in this process (checked
  with OMP_DISPLAY_ENV=VERBOSE, which prints what libgomp read, and with a spin count of
  INFINITE, whose idle worker then burns a core or not). So it must be in the environment
  before torch is imported.
- Hugging Face tokenizers read TOKENIZERS_PARALLELISM whenever they choose whether to use
  their thread pool, so any time before the first text is read would do; it goes in with the
  spin count, in one place.

Only the server applies them (app/main.py, first thing); importing `app` or `app.client` does
not, so a notebook keeps its own environment.
"""

import logging
import os
import sys

from app.settings import FastPathSettings

log = logging.getLogger(__name__)


def apply_process_settings(fast_path: FastPathSettings) -> None:
    """Put `fast_path`'s spin count and tokenizer parallelism into this process's environment
    (child processes inherit them); a value already there wins."""
    if "GOMP_SPINCOUNT" not in os.environ and "torch" in sys.modules:
        log.warning(
            "torch was loaded before the server's settings: GOMP_SPINCOUNT=%d reaches only "
            "child processes (import app.main before torch, or set the variable yourself)",
            fast_path.omp_spin_count,
        )
    os.environ.setdefault("GOMP_SPINCOUNT", str(fast_path.omp_spin_count))
    os.environ.setdefault("TOKENIZERS_PARALLELISM", str(fast_path.tokenizer_parallelism).lower())
