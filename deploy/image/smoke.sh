#!/usr/bin/env bash
# Smoke test of the built image: starts it on a loopback port, waits for /healthz, runs one
# MiniLM attention request, then stops and removes the container (also on failure).
#
#   deploy/image/smoke.sh [IMAGE] [PORT]
#
# ENGINE (podman or docker; default podman if installed) runs it. SMOKE_MODELS (a JSON list,
# ATTN_ENABLED_MODELS) picks the models served; it defaults to MiniLM and one translator, so the
# container does not spend its first start dequantizing SmolLM2 (SMOKE_MODELS= serves them all).
# SMOKE_TIMEOUT bounds the wait for /healthz, in seconds (default 300). RUN_FLAGS adds flags to
# `run` (word-split), e.g. '--runtime runc --ulimit nofile=4096:4096 --ulimit nproc=4096:4096'.
set -euo pipefail

IMAGE=${1:-attention-visualizer}
PORT=${2:-18000}
ENGINE=${ENGINE:-$(command -v podman >/dev/null 2>&1 && echo podman || echo docker)}
SMOKE_MODELS=${SMOKE_MODELS-'["minilm","transformer-zh-en"]'}
SMOKE_TIMEOUT=${SMOKE_TIMEOUT:-300}
NAME=attention-visualizer-smoke-$$
BASE=http://127.0.0.1:$PORT

env_args=()
if [ -n "$SMOKE_MODELS" ]; then
    env_args=(-e "ATTN_ENABLED_MODELS=$SMOKE_MODELS")
fi

cleanup() {
    "$ENGINE" rm -f "$NAME" >/dev/null 2>&1 || true
}
trap cleanup EXIT

start=$(date +%s.%N)
# shellcheck disable=SC2086
"$ENGINE" run -d --name "$NAME" ${RUN_FLAGS:-} -p "127.0.0.1:$PORT:8000" "${env_args[@]}" "$IMAGE" >/dev/null
echo "started $NAME from $IMAGE on $BASE (ATTN_ENABLED_MODELS=${SMOKE_MODELS:-all})"

deadline=$(( $(date +%s) + SMOKE_TIMEOUT ))
until curl -fsS -o /dev/null "$BASE/healthz" 2>/dev/null; do
    if [ "$("$ENGINE" inspect -f '{{.State.Running}}' "$NAME" 2>/dev/null)" != "true" ]; then
        echo "the container stopped; its log:" >&2
        "$ENGINE" logs "$NAME" >&2 || true
        exit 1
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
        echo "no /healthz within ${SMOKE_TIMEOUT}s; the log:" >&2
        "$ENGINE" logs "$NAME" >&2 || true
        exit 1
    fi
    sleep 0.5
done
ready=$(date +%s.%N)
echo "/healthz: $(curl -fsS "$BASE/healthz")"
python3 -c "print(f'time to /healthz: {$ready - $start:.1f} s')"

# The image's own HEALTHCHECK command, run once now (podman; docker runs it on its own timer).
if [ "$(basename "$ENGINE")" = podman ]; then
    "$ENGINE" healthcheck run "$NAME" && echo "HEALTHCHECK: healthy"
fi

body='{"model": "minilm", "text": "The animal didn'\''t cross the street because it was too tired"}'
out=$(mktemp)
t0=$(date +%s.%N)
status=$(curl -sS -o "$out" -w '%{http_code}' "$BASE/api/v1/attention" \
    -H 'Content-Type: application/json' -d "$body")
t1=$(date +%s.%N)
python3 -c "print(f'POST /api/v1/attention (minilm): HTTP $status in {$t1 - $t0:.2f} s')"
if [ "$status" != 200 ]; then
    head -c 2000 "$out" >&2
    rm -f "$out"
    exit 1
fi
# 6 layers x 12 heads: one self-attention block per layer, each [12, n, n].
python3 - "$out" <<'PY'
import json, sys

run = json.load(open(sys.argv[1]))
blocks = run["blocks"]
n = len(run["tokens"]["source"])
assert run["model"] == "minilm", run["model"]
assert len(blocks) == 6, len(blocks)
assert all(b["shape"] == [12, n, n] for b in blocks), [b["shape"] for b in blocks]
print(f"{len(blocks)} blocks of shape [12, {n}, {n}]; tokens: {' '.join(run['tokens']['source'])}")
PY
rm -f "$out"
echo "smoke test passed"
