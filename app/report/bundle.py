"""One script from an ES module of static/js and every module it imports, for a file that has
to run with no server behind it (the standalone report): the page's own drawing code, inlined.

Each module becomes a function scope that returns its exports, dependencies first, so the
top-level names of two modules never meet. Only the forms the project's modules use are
understood, `import { a, b as c } from "./x.js";` and `export function|async function|const|
let|class name`; any other import or export is refused with an error naming the module.
"""

import posixpath
import re
from pathlib import Path

IMPORT = re.compile(r'^import\s*\{([^}]*)\}\s*from\s*"([^"]+)";?[ \t]*$', re.MULTILINE)
EXPORT = re.compile(
    r"^export\s+(?=((?:async\s+)?function\*?|const|let|class)\s+([A-Za-z_$][\w$]*))",
    re.MULTILINE,
)
OTHER_IMPORT_OR_EXPORT = re.compile(r"^\s*(?:import|export)\b", re.MULTILINE)
IDENTIFIER = re.compile(r"^[A-Za-z_$][\w$]*$")


class BundleError(ValueError):
    """A module uses an import or export form this bundler does not understand."""


def _resolve(importer: str, specifier: str) -> str:
    if not specifier.startswith(("./", "../")):
        raise BundleError(f"{importer}: only relative imports are inlined, not {specifier!r}")
    path = posixpath.normpath(posixpath.join(posixpath.dirname(importer), specifier))
    if path.startswith("../"):
        raise BundleError(f"{importer}: {specifier!r} is outside the script folder")
    return path


def _bindings(importer: str, names: str, exporter: str, exported: list[str]) -> str:
    """`a, b as c` -> `a, b: c`, the same names as a destructuring pattern."""
    bindings = []
    for spec in filter(None, (part.strip() for part in names.split(","))):
        imported, _, local = (word.strip() for word in spec.partition(" as "))
        local = local or imported
        if not (IDENTIFIER.match(imported) and IDENTIFIER.match(local)):
            raise BundleError(f"{importer}: cannot read the import {spec!r}")
        if imported not in exported:
            raise BundleError(f"{importer}: {exporter} does not export {imported}")
        bindings.append(imported if local == imported else f"{imported}: {local}")
    return ", ".join(bindings)


def bundle(root: Path, entry: str) -> str:
    """The script that runs `entry` (a path under `root`, e.g. "report.js") with its imports."""
    sources: dict[str, str] = {}  # dependencies first
    visiting: set[str] = set()

    def visit(path: str) -> None:
        if path in sources:
            return
        if path in visiting:
            raise BundleError(f"{path} imports itself through a cycle")
        visiting.add(path)
        source = (root / path).read_text(encoding="utf-8")
        for match in IMPORT.finditer(source):
            visit(_resolve(path, match.group(2)))
        visiting.discard(path)
        sources[path] = source

    visit(entry)
    scopes = {path: f"__module{i}" for i, path in enumerate(sources)}
    exports = {
        path: [match.group(2) for match in EXPORT.finditer(source)]
        for path, source in sources.items()
    }
    parts = []
    for path, source in sources.items():

        def binding(match: re.Match[str], importer: str = path) -> str:
            exporter = _resolve(importer, match.group(2))
            names = _bindings(importer, match.group(1), exporter, exports[exporter])
            return f"const {{ {names} }} = {scopes[exporter]};"

        body = IMPORT.sub(binding, source)
        body = EXPORT.sub("", body)
        if OTHER_IMPORT_OR_EXPORT.search(body):
            raise BundleError(f"{path}: an import or export this bundler does not understand")
        parts.append(
            f"// {path}\nconst {scopes[path]} = (() => {{\n{body}\n"
            f"return {{ {', '.join(exports[path])} }};\n}})();\n"
        )
    return "\n".join(parts)
