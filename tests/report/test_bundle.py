"""The bundler that inlines an ES module and its imports into one script."""

import re
from pathlib import Path

import pytest

from app.report.bundle import BundleError, bundle
from app.settings import PROJECT_ROOT


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def _modules(script: str) -> list[str]:
    """The modules of a bundle, in the order they run."""
    return re.findall(r"^// (\S+)\nconst __module\d+ = ", script, re.MULTILINE)


def test_each_module_keeps_its_own_names_and_dependencies_come_first(tmp_path: Path) -> None:
    root = _write(
        tmp_path,
        {
            "entry.js": 'import { shout, LIMIT as MAX } from "./lib/words.js";\n'
            'import { helper } from "./util.js";\n'
            "const helperCopy = 1;\nshout(MAX + helper());\n",
            "lib/words.js": 'import { helper } from "../util.js";\n'
            "const helperCopy = 2;\n"
            "export const LIMIT = 3;\nexport async function shout(x) { return helper(x); }\n",
            "util.js": "export function helper(x) { return x; }\n",
        },
    )
    script = bundle(root, "entry.js")
    assert _modules(script) == ["util.js", "lib/words.js", "entry.js"]
    assert script.count("const { helper } = __module0;") == 2
    assert "const { shout, LIMIT: MAX } = __module1;" in script
    assert "return { LIMIT, shout };" in script
    assert "import " not in script and "export " not in script
    # Two modules' `helperCopy` live in two function scopes: no redeclaration.
    assert script.count("const helperCopy") == 2
    assert script.count("= (() => {") == 3


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("export default function f() {}\n", "does not understand"),
        ("const a = 1;\nexport { a };\n", "does not understand"),
        ('import Plotly from "./plotly.js";\n', "does not understand"),
        ('import { a } from "plotly";\n', "only relative imports"),
        ('import { a } from "../../outside.js";\n', "outside the script folder"),
        ('import { a } from "./entry.js";\n', "cycle"),
        ('import { b } from "./other.js";\n', "other.js does not export b"),
    ],
)
def test_what_it_cannot_inline_is_refused(tmp_path: Path, source: str, problem: str) -> None:
    root = _write(tmp_path, {"entry.js": source, "other.js": "export const a = 1;\n"})
    with pytest.raises(BundleError, match=problem):
        bundle(root, "entry.js")


def test_the_report_script_bundles_with_the_page_modules() -> None:
    script = bundle(PROJECT_ROOT / "static" / "js", "report.js")
    modules = _modules(script)
    assert modules[-1] == "report.js"
    assert {"blocks.js", "heatmap.js", "lines.js", "text.js", "options.js"} <= set(modules)
