"""The fast path's process-wide settings (app/process_env.py): the server's entry module puts
them into the environment before torch loads, so that GNU OpenMP reads the spin count, and a
value already in the environment wins; importing the server registers nothing with
transformers. Each case runs in a fresh interpreter with none of these variables set."""

import json
import os
import subprocess
import sys
import time

import httpx

from tests.conftest import free_port

# libgomp prints what it read from the environment, as it loads, when this is set.
SHOW_OPENMP = {"OMP_DISPLAY_ENV": "VERBOSE"}
SERVER_STATE = """
import json, os
import app.main
from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS
from app.zoo.packing import PACKED_ATTENTION
print(json.dumps({
    "GOMP_SPINCOUNT": os.environ.get("GOMP_SPINCOUNT"),
    "TOKENIZERS_PARALLELISM": os.environ.get("TOKENIZERS_PARALLELISM"),
    "registered": PACKED_ATTENTION in ALL_ATTENTION_FUNCTIONS
    or PACKED_ATTENTION in ALL_MASK_ATTENTION_FUNCTIONS,
}))
"""


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without the variables under test (this test process has imported
    the server, so it has them) and without any ATTN_ setting."""
    dropped = ("ATTN_", "GOMP_", "OMP_", "TOKENIZERS_")
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(dropped)},
        "ATTN_ENABLED_MODELS": "[]",  # the server loads no model: start-up stays quick
        **extra,
    }


def run_python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )


def openmp_spin_count(stderr: str) -> str:
    """The spin count libgomp read as it loaded, from its OMP_DISPLAY_ENV listing."""
    (line,) = [line for line in stderr.splitlines() if "GOMP_SPINCOUNT =" in line]
    return line.split("=")[1].strip().strip("'")


def test_importing_the_server_applies_the_defaults_before_torch_loads() -> None:
    done = run_python(SERVER_STATE, clean_env(**SHOW_OPENMP))
    assert done.returncode == 0, done.stderr
    state = json.loads(done.stdout.splitlines()[-1])
    assert state == {
        "GOMP_SPINCOUNT": "10000",
        "TOKENIZERS_PARALLELISM": "false",
        "registered": False,
    }
    assert openmp_spin_count(done.stderr) == "10000"  # what OpenMP itself uses
    assert "torch was loaded before" not in done.stderr


def test_the_settings_choose_the_values_and_the_environment_wins_over_them() -> None:
    chosen = run_python(
        SERVER_STATE,
        clean_env(**SHOW_OPENMP, ATTN_OMP_SPIN_COUNT="2500", ATTN_TOKENIZER_PARALLELISM="true"),
    )
    assert chosen.returncode == 0, chosen.stderr
    state = json.loads(chosen.stdout.splitlines()[-1])
    assert (state["GOMP_SPINCOUNT"], state["TOKENIZERS_PARALLELISM"]) == ("2500", "true")
    assert openmp_spin_count(chosen.stderr) == "2500"

    preset = run_python(
        SERVER_STATE,
        clean_env(
            **SHOW_OPENMP,
            ATTN_OMP_SPIN_COUNT="2500",
            GOMP_SPINCOUNT="777",
            TOKENIZERS_PARALLELISM="true",
        ),
    )
    assert preset.returncode == 0, preset.stderr
    state = json.loads(preset.stdout.splitlines()[-1])
    assert (state["GOMP_SPINCOUNT"], state["TOKENIZERS_PARALLELISM"]) == ("777", "true")
    assert openmp_spin_count(preset.stderr) == "777"


def test_set_after_torch_loads_the_spin_count_changes_nothing_which_is_why_it_goes_first() -> None:
    """The reason for the order in app/main.py, kept true: libgomp reads the variable only as
    torch loads it, not at the first parallel region."""
    code = "import os, torch\nos.environ['GOMP_SPINCOUNT'] = '2500'\ntorch.ones(512, 512).sum()\n"
    done = run_python(code, clean_env(**SHOW_OPENMP))
    assert done.returncode == 0, done.stderr
    assert openmp_spin_count(done.stderr) == "300000"  # GNU OpenMP's default


def test_uvicorn_serving_app_main_runs_openmp_with_the_servers_spin_count() -> None:
    """The real entry: `uvicorn app.main:app`, as the Makefile, the Dockerfile and the
    replicas start it."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app.main:app", "--port", str(port)],
        env=clean_env(**SHOW_OPENMP, ATTN_OMP_SPIN_COUNT="4321"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, "no server"
            time.sleep(0.2)
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=30)
    assert openmp_spin_count(stderr) == "4321"
