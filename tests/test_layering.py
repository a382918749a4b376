"""The layering rules, checked on the real import graph of the source (imports inside functions
and ``importlib``/``__import__`` calls included):

* core imports nothing above it (no gui, no entry layer, no Qt);
* only core.cluster imports ray (and pyarrow): an optional extra;
* gui never imports the entry layer;
* gui.widgets never imports a tab (gui.classify, gui.train): the tabs build on the widgets;
* nothing imports the entry layer (pigeonhole.cli, .commands, .selftest) but the entry layer;
* no module imports another module's ``_private`` name;
* the graph of the product's modules has no cycle.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = {"pigeonhole": ROOT / "pigeonhole", "pigeonhole.core": ROOT / "core",
           "pigeonhole.gui": ROOT / "gui"}  # fmt: skip
QT = ("PySide6", "pyqtgraph", "shiboken6")


def module_files() -> dict[str, Path]:
    """{module name: file} for every module of the product, named as installed."""
    found = {}
    for prefix, folder in SOURCES.items():
        for path in sorted(folder.rglob("*.py")):
            rel = path.relative_to(folder).with_suffix("")
            parts = list(rel.parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join([prefix, *parts])] = path
    return found


def layer(module: str) -> str:
    for name in ("core", "gui"):
        if module == f"pigeonhole.{name}" or module.startswith(f"pigeonhole.{name}."):
            return name
    return (
        "entry" if module.startswith("pigeonhole.") else ("root" if module == "pigeonhole" else "")
    )


def imports_of(module: str, path: Path, known: set[str]) -> list[tuple[int, str, list[str]]]:
    """(line, imported module, names taken from it) for every import in the file, wherever it
    stands; relative imports resolved; ``from pkg import submodule`` counted as the submodule."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name, []) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names = [a.name for a in node.names]
            subs = [n for n in names if f"{target}.{n}" in known]
            out += [(node.lineno, f"{target}.{n}", []) for n in subs]
            out.append((node.lineno, target, [n for n in names if n not in subs]))
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in ("import_module", "__import__"):
                arg = node.args[0] if node.args else None
                text = arg.value if isinstance(arg, ast.Constant) else "<dynamic>"
                out.append((node.lineno, str(text), []))
    return sorted(out, key=lambda item: item[0])


def graph() -> tuple[dict[str, Path], dict[str, list[tuple[int, str, list[str]]]]]:
    files = module_files()
    known = set(files)
    return files, {m: imports_of(m, p, known) for m, p in files.items()}


def test_the_graph_sees_every_kind_of_import(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import os\nfrom PySide6.QtCore import QObject\nfrom . import images\n"
        "def f():\n    import pigeonhole.gui.app\n    from ..gui import app\n"
        "    importlib.import_module('pigeonhole.cli')\n    from .fileio import _private\n"
    )
    known = {"pigeonhole.core.images"}
    found = imports_of("pigeonhole.core.sample", sample, known)
    assert [(line, target) for line, target, _ in found] == [
        (1, "os"), (2, "PySide6.QtCore"), (3, "pigeonhole.core.images"), (3, "pigeonhole.core"),
        (5, "pigeonhole.gui.app"), (6, "pigeonhole.gui"), (7, "pigeonhole.cli"),
        (8, "pigeonhole.core.fileio"),
    ]  # fmt: skip
    assert found[-1][2] == ["_private"]


def test_layers_point_down_only():
    files, edges = graph()
    problems = []
    for module, imports in edges.items():
        for line, target, _ in imports:
            where = f"{files[module].relative_to(ROOT)}:{line} imports {target}"
            if target == "<dynamic>" and layer(module) != "entry":
                problems.append(f"{where} (an import the graph cannot follow)")
            if layer(module) == "core" and (
                target.split(".")[0] in QT or layer(target) in ("gui", "entry")
            ):
                problems.append(where)
            if layer(module) == "gui" and layer(target) == "entry":
                problems.append(where)
            if layer(target) == "entry" and layer(module) != "entry":
                problems.append(where)
    assert problems == []


def test_only_core_cluster_imports_ray():
    """Ray (and pyarrow, which comes with it) is an optional extra: one package knows it."""
    files, edges = graph()
    problems = [
        f"{files[m].relative_to(ROOT)}:{line} imports {target}"
        for m, imports in edges.items()
        for line, target, _ in imports
        if target.split(".")[0] in ("ray", "pyarrow") and not in_package(m, "pigeonhole.core.cluster")
    ]  # fmt: skip
    assert problems == []


TABS = ("pigeonhole.gui.classify", "pigeonhole.gui.train")


def in_package(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_widgets_never_import_a_tab():
    files, edges = graph()
    problems = [
        f"{files[m].relative_to(ROOT)}:{line} imports {target}"
        for m, imports in edges.items()
        if in_package(m, "pigeonhole.gui.widgets")
        for line, target, _ in imports
        if any(in_package(target, tab) for tab in TABS)
    ]
    assert problems == []


def test_no_private_names_cross_modules():
    files, edges = graph()
    problems = [
        f"{files[m].relative_to(ROOT)}:{line} takes {', '.join(n for n in names if n.startswith('_'))} from {target}"
        for m, imports in edges.items()
        for line, target, names in imports
        if target.startswith("pigeonhole") and any(n.startswith("_") and n != "__version__" for n in names)
    ]  # fmt: skip
    assert problems == []


def test_nothing_outside_the_entry_layer_imports_it():
    # tests and benchmarks are outside the product: they may use anything public
    files, edges = graph()
    entry = {m for m in files if layer(m) == "entry"}
    users = {m for m, imports in edges.items() for _, t, _ in imports if t in entry}
    assert users <= entry


def test_importing_every_core_module_loads_no_qt():
    modules = [m for m in module_files() if layer(m) == "core"]
    assert {"pigeonhole.core.models.checkpoints", "pigeonhole.core.results.sorting"} <= set(modules)
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {QT!r} "
        "or m.startswith(('pigeonhole.gui', 'pigeonhole.cli', 'pigeonhole.commands')))\n"
        "print(json.dumps(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_import_graph_has_no_cycle():
    """Every import counts, lazy ones too: a cycle hidden inside a function is still a cycle."""
    files, imports = graph()
    edges = {m: {t for _, t, _ in found if t in files and t != m} for m, found in imports.items()}
    assert cycles(edges) == []
