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


def _version() -> str:
    from pigeonhole.core import __version__

    return __version__


# argv, exit code, the text it must print (stdout for an answer, one stderr line for an error)
ANSWERS = [
    (["--version"], 0, f"pigeonhole {_version()}"),
    (["--help"], 0, "usage: pigeonhole"),
    (["predict"], 2, "the following arguments are required: PATH"),
    (
        ["predict", "x.jpg", "--precision", "fp64"],
        2,
        "argument --precision: invalid choice: 'fp64'",
    ),
    (["bench", "--engine", "tensorrt"], 2, "argument --engine: invalid choice: 'tensorrt'"),
    (["nonsense"], 2, "argument COMMAND: invalid choice: 'nonsense'"),
]


@pytest.mark.parametrize(
    "argv, code, text", ANSWERS,
    ids=["version", "help", "missing-path", "bad-precision", "bad-engine", "bad-command"],
)  # fmt: skip
def test_answers_that_need_no_model_never_import_torch(argv, code, text, tmp_path):
    program = (
        "import sys\n"
        "from pigeonhole.cli import main\n"
        "try:\n"
        f"    code = main({argv!r})\n"
        "except SystemExit as e:\n"
        "    code = e.code\n"
        "print('exit', code)\n"
        "print('torch' in sys.modules, 'torchvision' in sys.modules)\n"
    )
    out = _python(["-c", program], tmp_path)
    said = out.stdout + out.stderr
    assert out.returncode == 0, said
    *printed, exit_line, imported = out.stdout.strip().splitlines()
    assert imported == "False False", said
    assert exit_line == f"exit {code}", said
    if code == 0:  # the answer on stdout, nothing on stderr
        assert printed and printed[0].startswith(text) and out.stderr == "", said
    else:  # nothing on stdout, one error line on stderr
        assert printed == [] and out.stderr.count("\n") == 1, said
        assert out.stderr.startswith("pigeonhole: error: ") and text in out.stderr, said


def test_the_window_is_painted_before_torch_is_imported(tmp_path):
    """run_gui paints the start-up window first, imports torch off the GUI thread, then shows
    the main window (benchmarks/startup_probe.py notes, at each window's first paint, whether
    torch is imported)."""
    out = _python([str(ROOT / "benchmarks" / "startup_probe.py")], tmp_path)
    seen = [(line.split()[0], line.split()[2]) for line in out.stdout.strip().splitlines()]
    assert seen[:2] == [("StartupWindow", "False"), ("MainWindow", "True")], out.stdout + out.stderr
