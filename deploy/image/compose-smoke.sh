#!/usr/bin/env bash
# Smoke test of deploy/compose.yaml: brings it up with REPLICAS replicas and nginx on
# 127.0.0.1:PORT, checks it through nginx as a client would, then takes it down and removes
# its containers, network and volume (also on failure).
#
#   deploy/image/compose-smoke.sh [PORT] [REPLICAS]
#
# Checks: GET /healthz answers 200 with an X-Replica header; 20 of them name every replica;
# POST /api/v1/attention (MiniLM) answers 200, and the same request again answers X-Cache: hit,
# from Redis (X-Cache-Tier: shared) when it lands on another replica than the first.
#
# COMPOSE: the compose command (default podman-compose). REDIS_IMAGE and NGINX_IMAGE are passed
# on to the compose file (default here: the local stand-ins of `make image-stand-ins`; export
# them empty for redis:7 and nginx:1.27). RUN_FLAGS (word-split) go to every container's
# `podman create` (podman-compose's --podman-run-args), e.g.
# '--runtime runc --ulimit nofile=4096:4096 --ulimit nproc=4096:4096'. COMPOSE_TIMEOUT bounds
# the wait for every replica to answer, in seconds (default 300).
set -euo pipefail

PORT=${1:-18080}
export REPLICAS=${2:-2}
COMPOSE=${COMPOSE:-podman-compose}
export REDIS_IMAGE=${REDIS_IMAGE-localhost/redis-local}
export NGINX_IMAGE=${NGINX_IMAGE-localhost/nginx-local}
[ -n "$REDIS_IMAGE" ] || unset REDIS_IMAGE
[ -n "$NGINX_IMAGE" ] || unset NGINX_IMAGE
COMPOSE_TIMEOUT=${COMPOSE_TIMEOUT:-300}
# Loopback only: compose.yaml publishes ${PORT}:80.
export PORT=127.0.0.1:$PORT
BASE=http://$PORT
FILE=$(dirname "$0")/../compose.yaml

compose_args=(-f "$FILE")
if [ -n "${RUN_FLAGS:-}" ]; then
    compose_args+=(--podman-run-args="$RUN_FLAGS")
fi

down() {
    if [ "${passed:-}" != 1 ]; then
        echo "failed; the containers' logs:" >&2
        $COMPOSE "${compose_args[@]}" logs >&2 2>&1 || true
    fi
    $COMPOSE "${compose_args[@]}" down -v >/dev/null 2>&1 || true
}
trap down EXIT

start=$(date +%s.%N)
$COMPOSE "${compose_args[@]}" up -d >/dev/null
echo "up: $REPLICAS replicas, redis ${REDIS_IMAGE:-redis:7}, nginx ${NGINX_IMAGE:-nginx:1.27} on $BASE"

# The X-Replica header of one request (empty if none), and its status in $status.
tmp=$(mktemp -d)
trap 'down; rm -rf "$tmp"' EXIT
request() {
    status=$(curl -s -o "$tmp/body" -D "$tmp/headers" -w '%{http_code}' "$@" || echo 000)
}
header() {
    tr -d '\r' <"$tmp/headers" | awk -F': ' -v name="$1" 'tolower($1) == name { print $2 }'
}

# Ready when every replica has answered /healthz through nginx.
deadline=$(( $(date +%s) + COMPOSE_TIMEOUT ))
declare -A seen=()
while [ "${#seen[@]}" -lt "$REPLICAS" ]; do
    request "$BASE/healthz"
    if [ "$status" = 200 ]; then
        replica=$(header x-replica)
        [ -n "$replica" ] || { echo "GET /healthz: 200 without X-Replica" >&2; exit 1; }
        seen[$replica]=1
    else
        refused=1
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
        echo "not every replica answered within ${COMPOSE_TIMEOUT}s (seen: ${!seen[*]})" >&2
        exit 1
    fi
    sleep 0.5
done
ready=$(date +%s.%N)
python3 -c "print(f'every replica answered /healthz {$ready - $start:.1f} s after up')"
# podman before 4.6 starts nginx without waiting for the replicas' HEALTHCHECK (podman-compose
# skips depends_on's service_healthy), so nginx met refused connections while they started;
# each of its workers skips a replica that refused for fail_timeout (10 s), on its own.
if [ "${refused:-}" = 1 ]; then
    echo "some requests were refused while the replicas started: waiting out fail_timeout (10 s)"
    sleep 11
fi

declare -A counts=()
for _ in $(seq 20); do
    request "$BASE/healthz"
    [ "$status" = 200 ] || { echo "GET /healthz: HTTP $status"; cat "$tmp/body"; exit 1; } >&2
    replica=$(header x-replica)
    counts[$replica]=$(( ${counts[$replica]:-0} + 1 ))
done
summary=$(for r in "${!counts[@]}"; do echo "$r (${counts[$r]})"; done | sort | paste -sd, -)
echo "20 x GET /healthz: HTTP 200, X-Replica $summary"
[ "${#counts[@]}" -eq "$REPLICAS" ] || { echo "expected $REPLICAS replicas" >&2; exit 1; }

# A text no earlier run of this volume-less stack has seen: the first answer is a miss.
body="{\"model\": \"minilm\", \"text\": \"hello world $$ $(date +%s)\", \"encoding\": \"uint8\"}"
first=
for i in 1 2 3 4; do
    t0=$(date +%s.%N)
    request "$BASE/api/v1/attention" -H 'Content-Type: application/json' -d "$body"
    t1=$(date +%s.%N)
    replica=$(header x-replica)
    cache=$(header x-cache)
    tier=$(header x-cache-tier)
    python3 -c "print(f'POST /api/v1/attention #$i: HTTP $status in {$t1 - $t0:.2f} s, X-Replica $replica, X-Cache ${cache:--}, X-Cache-Tier ${tier:--}')"
    [ "$status" = 200 ] || { head -c 2000 "$tmp/body" >&2; exit 1; }
    if [ "$i" = 1 ]; then
        first=$replica
        [ "$cache" != hit ] || { echo "the first run was already cached" >&2; exit 1; }
    else
        [ "$cache" = hit ] || { echo "the same request again was not a cache hit" >&2; exit 1; }
        if [ "$replica" != "$first" ]; then
            [ "$tier" = shared ] || { echo "a hit on another replica not from Redis" >&2; exit 1; }
            shared=1
            break
        fi
    fi
done
[ -n "${shared:-}" ] || [ "$REPLICAS" = 1 ] || { echo "no repeat landed on another replica" >&2; exit 1; }
passed=1
echo "compose smoke test passed"
