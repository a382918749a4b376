"""Import discipline at start-up (no timings): what answers at once never imports torch, and the
window is painted before torch is imported. Each check runs in a fresh interpreter."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _python(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT),
               PIGEONHOLE_DATA_DIR=str(tmp_path / "data"),
               PIGEONHOLE_CACHE_DIR=str(tmp_path / "cache"),
               XDG_CONFIG_HOME=str(tmp_path / "config"))  # fmt: skip
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip


@pytest.mark.parametrize(
    "argv",
    [["--version"], ["--help"], ["predict"], ["predict", "x.jpg", "--precision", "fp64"],
     ["bench", "--engine", "tensorrt"], ["nonsense"]],
    ids=["version", "help", "missing-path", "bad-precision", "bad-engine", "bad-command"],
)  # fmt: skip
def test_answers_that_need_no_model_never_import_torch(argv, tmp_path):
    code = (
        "import sys\n"
        "from pigeonhole.cli import main\n"
        "try:\n"
        f"    code = main({argv!r})\n"
        "except SystemExit as e:\n"
        "    code = e.code\n"
        "print('exit', code)\n"
        "print('torch' in sys.modules, 'torchvision' in sys.modules)\n"
    )
    out = _python(["-c", code], tmp_path)
    lines = out.stdout.strip().splitlines()
    assert lines[-1] == "False False", out.stdout + out.stderr
    assert lines[-2] in ("exit 0", "exit 2"), out.stdout + out.stderr


def test_the_window_is_painted_before_torch_is_imported(tmp_path):
    """run_gui paints the start-up window first, imports torch off the GUI thread, then shows
    the main window (benchmarks/startup_probe.py notes, at each window's first paint, whether
    torch is imported)."""
    out = _python([str(ROOT / "benchmarks" / "startup_probe.py")], tmp_path)
    seen = [(line.split()[0], line.split()[2]) for line in out.stdout.strip().splitlines()]
    assert seen[:2] == [("StartupWindow", "False"), ("MainWindow", "True")], out.stdout + out.stderr
