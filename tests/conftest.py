import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from tests.tiny_models import FAMILY, build_tiny_model

DEMO_SENTENCE = "The animal didn't cross the street because it was too tired"
# Limits of the test servers that differ from the defaults (small, so tests stay fast).
TEST_LIMITS: dict[str, int] = {"max_new_tokens": 8}
# The shared test servers take hundreds of requests a minute from one address: no rate limit
# there (tests/api/test_rate_limit.py tests it on apps of its own).
NO_RATE_LIMIT = {"rate_limit": ""}


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One tiny random-weight model folder per kind, built once per test session."""
    root = tmp_path_factory.mktemp("tiny-models")
    return {kind: build_tiny_model(kind, root / kind) for kind in FAMILY}


@pytest.fixture(scope="session")
def settings(tiny_models: dict[str, Path]) -> Settings:
    return Settings(
        hf_models={f"tiny-{kind}": path for kind, path in tiny_models.items()},
        **TEST_LIMITS,
        **NO_RATE_LIMIT,
    )


@pytest.fixture(scope="session")
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """`app` served by uvicorn on a free loopback port, in a thread of this process."""
    port = free_port()
    # As every launcher of the project runs it: the app alone reads X-Forwarded-For.
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", proxy_headers=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.1)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def rss_bytes(pid: int) -> int:
    """A live server's resident memory now, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


# The app as the Makefile, the Dockerfile, deploy/ and Kubernetes start it (with
# --no-proxy-headers: tests/test_launchers.py checks that each of them passes it).
UVICORN = [sys.executable, "-m", "uvicorn", "app.main:app", "--no-proxy-headers"]


@contextmanager
def server_process(env: dict[str, str]) -> Iterator[tuple[str, int]]:
    """The app in a uvicorn process of its own on a free loopback port, with `env` added to
    the environment: its URL and process id (for its memory), once /healthz answers."""
    port = free_port()
    process = subprocess.Popen(
        [*UVICORN, "--port", str(port)],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            raise RuntimeError("the test server did not start")
        time.sleep(0.2)
    try:
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.fixture(scope="session")
def live_server(settings: Settings) -> Iterator[str]:
    with serving(create_app(settings)) as url:
        yield url
