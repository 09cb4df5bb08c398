"""X-Forwarded-For names a client only when a configured proxy sent it: uvicorn must not
rewrite the peer from it (by default it would, for any loopback peer), so every way the
project starts uvicorn passes --no-proxy-headers, and the app alone reads the header, from
ATTN_TRUSTED_PROXIES (by default nobody)."""

import json
import re
import shlex

import httpx
import yaml

from app.settings import PROJECT_ROOT, Settings
from tests.conftest import UVICORN, server_process

FLAG = "--no-proxy-headers"


def _scoring(url: str, forwarded_for: str) -> int:
    answer = httpx.post(
        f"{url}/api/v1/scoring", json={}, headers={"X-Forwarded-For": forwarded_for}, timeout=30
    )
    return answer.status_code


def test_a_loopback_clients_x_forwarded_for_is_ignored_by_default() -> None:
    """A local process writes a new address in each request: the limit still counts them all
    as its own."""
    env = {"ATTN_ENABLED_MODELS": "[]", "ATTN_RATE_LIMIT": "2/minute"}
    with server_process(env) as (url, _):
        statuses = [_scoring(url, f"203.0.113.{n}") for n in range(4)]
    assert statuses == [200, 200, 429, 429]


def test_from_a_configured_proxy_the_header_names_the_client() -> None:
    env = {
        "ATTN_ENABLED_MODELS": "[]",
        "ATTN_RATE_LIMIT": "2/minute",
        "ATTN_TRUSTED_PROXIES": '["127.0.0.1"]',
    }
    with server_process(env) as (url, _):
        statuses = [_scoring(url, f"203.0.113.{n}") for n in range(4)]
    assert statuses == [200] * 4  # four clients behind the proxy, one request each


def test_nobody_is_trusted_by_default() -> None:
    assert Settings().trusted_proxies == []


def test_every_launcher_leaves_forwarded_headers_to_the_app() -> None:
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    (run,) = re.findall(r"^run:.*\n\t(.+)$", makefile, re.M)
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    (cmd,) = re.findall(r"^CMD (\[.+\])$", dockerfile, re.M)
    replica = (PROJECT_ROOT / "deploy" / "supervisor" / "replica.conf.template").read_text()
    (supervised,) = re.findall(r"^command=(.+)$", replica, re.M)
    k8s = [
        document
        for document in yaml.safe_load_all(
            (PROJECT_ROOT / "deploy" / "k8s" / "app.yaml").read_text()
        )
        if document["kind"] == "Deployment"
    ]
    (pod,) = [document["spec"]["template"]["spec"] for document in k8s]
    compose = yaml.safe_load((PROJECT_ROOT / "deploy" / "compose.yaml").read_text())
    commands = {
        "make run": shlex.split(run),
        "the Dockerfile": json.loads(cmd),
        "make cluster's replicas": shlex.split(supervised),
        "Kubernetes": pod["containers"][0]["command"],
        "the tests' server processes": UVICORN,
    }
    for launcher, command in commands.items():
        assert any("uvicorn" in word for word in command), launcher
        assert FLAG in command, f"{launcher} starts uvicorn without {FLAG}"
    # compose runs the image's own command.
    assert "command" not in compose["services"]["app"]
