"""A notebook that imports the client keeps its own process: no torch, no environment change
(the server's settings are the server's: app/process_env.py)."""

import json
import os
import subprocess
import sys

IMPORT_AND_REPORT = """
import json, os, sys
before = dict(os.environ)
import {module}
print(json.dumps({{
    "torch": "torch" in sys.modules,
    "changed": sorted(k for k in {{*before, *os.environ}} if before.get(k) != os.environ.get(k)),
    "GOMP_SPINCOUNT": os.environ.get("GOMP_SPINCOUNT"),
    "TOKENIZERS_PARALLELISM": os.environ.get("TOKENIZERS_PARALLELISM"),
}}))
"""


def test_importing_the_client_loads_no_torch_and_changes_no_environment() -> None:
    # This test process has imported the server, which set both variables: not in the child.
    env = {
        k: v for k, v in os.environ.items() if k not in ("GOMP_SPINCOUNT", "TOKENIZERS_PARALLELISM")
    }
    for module in ("app", "app.client"):
        done = subprocess.run(
            [sys.executable, "-c", IMPORT_AND_REPORT.format(module=module)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == {
            "torch": False,
            "changed": [],
            "GOMP_SPINCOUNT": None,
            "TOKENIZERS_PARALLELISM": None,
        }, module
