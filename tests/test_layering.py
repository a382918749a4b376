"""core/ never imports Qt, pyqtgraph or gui (the CLI may import gui lazily, inside a function, to open the window)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "core"
FORBIDDEN = ("PySide6", "pyqtgraph", "shiboken6", "gui")
# The CLI opens the window by importing gui lazily; the self-test reaches Qt only via importlib.
LAZY_ALLOWED = {"cli.py"}


def core_modules() -> list[str]:
    names = []
    for path in sorted(CORE.rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        if rel.name == "__main__":
            continue
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        names.append(".".join(parts))
    return names


def test_importing_every_core_module_loads_no_qt():
    modules = core_modules()
    assert {"core.checkpoints", "core.sorting", "core.archs", "core.commands.models"} <= set(
        modules
    )
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})\n"
        "print(json.dumps(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


def forbidden_imports(tree: ast.AST, module_level_only: bool) -> list[str]:
    found = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(
                child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
            )
            names: list[str] = []
            if isinstance(child, ast.Import):
                names = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                names = [child.module]
            for name in names:
                if name.split(".")[0] in FORBIDDEN and not (module_level_only and in_function):
                    found.append(f"line {child.lineno}: {name}")
            visit(child, nested)

    visit(tree, False)
    return found


def test_no_qt_or_gui_imports_in_core_source():
    problems = {}
    for path in sorted(CORE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        bad = forbidden_imports(tree, module_level_only=path.name in LAZY_ALLOWED)
        if bad:
            problems[str(path.relative_to(ROOT))] = bad
    assert problems == {}


def test_the_scan_catches_imports():
    sample = ast.parse(
        "import os\nfrom PySide6.QtCore import QObject\ndef f():\n    import gui.app\n"
    )
    assert forbidden_imports(sample, False) == ["line 2: PySide6.QtCore", "line 4: gui.app"]
    assert forbidden_imports(sample, True) == ["line 2: PySide6.QtCore"]
