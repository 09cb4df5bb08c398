# CPU-only image of the attention visualizer. Build: docker build -t attention-visualizer .
# Run: docker run -p 8000:8000 attention-visualizer, then open http://localhost:8000
# Offline-ish machines (no registry, no download.pytorch.org): `make image BASE_IMAGE=local`
# builds it from a debootstrapped base and a local torch wheel; see docs/deploy.md, "The Docker image".
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1

# fonts-noto-cjk (about 90 MB): a browser or renderer run in this image draws Chinese with it,
# not empty boxes (.ci/run installs it too).
RUN apt-get update \
    && apt-get install -y --no-install-recommends make fonts-noto-cjk \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 app

WORKDIR /app
COPY --chown=app:app . .
# WORKDIR creates /app as root; the app user builds its virtualenv inside it.
RUN chown app:app /app
USER app
# The app's cache folder (SmolLM2's converted weights), owned by app: a volume mounted there
# (deploy/compose.yaml) takes its owner from it.
RUN mkdir -p /home/app/.cache/attention-visualizer

# The CPU build of torch from PyTorch's own index: PyPI's default build pulls several GB of CUDA.
# TORCH_FIND_LINKS (a folder mounted at build time, e.g. `-v /opt/wheels:/opt/wheels:ro`) adds
# local wheels: there 2.13.0+cpu outranks PyPI's 2.13.0, and TORCH_INDEX_URL may then be PyPI
# for torch's own dependencies. Either way torch stays pinned, and the build fails if the torch
# it installed is a CUDA build. Then the same install step `make run` performs (it finds torch
# already there).
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ARG TORCH_FIND_LINKS=
# Only behind a TLS-intercepting proxy: the CA bundle pip trusts (mounted at build time). Unset
# unless passed, so pip keeps its own bundle.
ARG PIP_CERT
RUN python -m venv .venv \
    && .venv/bin/pip install torch==2.13.0 --index-url "$TORCH_INDEX_URL" \
        ${TORCH_FIND_LINKS:+--find-links "$TORCH_FIND_LINKS"} \
    && .venv/bin/python -c "import sys, torch; sys.exit(torch.version.cuda is not None)" \
    && make .venv/.runtime-installed

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import urllib.request, sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status != 200)"

# What `make run HOST=0.0.0.0` runs, without make in between to swallow signals. With
# --no-proxy-headers the peer stays the peer: X-Forwarded-For counts only from
# ATTN_TRUSTED_PROXIES (by default nobody), as the app reads it itself.
CMD [".venv/bin/uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "8000", "--no-proxy-headers"]
