"""The server does not need the training package or its dependencies: no module under app/
imports them (they come with the `train` extra)."""

from __future__ import annotations

import ast
from pathlib import Path

APP = Path(__file__).resolve().parents[2] / "app"
TRAINING_ONLY = {"training", "sacrebleu", "tqdm", "hsk_sentences_audio", "eflomal"}


def imported_modules(path: Path) -> set[str]:
    """The top-level package of every module `path` imports, at any depth of the file."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
    return found


def test_no_app_module_imports_training_or_its_dependencies() -> None:
    offenders = {
        str(path.relative_to(APP.parent)): sorted(imported_modules(path) & TRAINING_ONLY)
        for path in sorted(APP.rglob("*.py"))
    }
    assert {path: names for path, names in offenders.items() if names} == {}
