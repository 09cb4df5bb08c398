# CPU-only image of the attention visualizer. Build: docker build -t attention-visualizer .
# Run: docker run -p 8000:8000 attention-visualizer, then open http://localhost:8000
FROM python:3.11-slim

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
# Then the same install step `make run` performs (it finds torch already there).
RUN python -m venv .venv \
    && .venv/bin/pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu \
    && make .venv/.runtime-installed

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import urllib.request, sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status != 200)"

# What `make run HOST=0.0.0.0` runs, without make in between to swallow signals.
CMD [".venv/bin/uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "8000"]
