"""Running Python where importing torch or torchvision raises: the torch-free paths' proof."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BLOCK = 'raise ImportError("torch is blocked in this test")\n'


def blocked_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a process that cannot import torch or torchvision (the test's own
    cache and data folders, so it finds the exports and index the test made)."""
    folder = tmp_path / "no-torch"
    for name in ("torch", "torchvision"):
        (folder / name).mkdir(parents=True, exist_ok=True)
        (folder / name / "__init__.py").write_text(BLOCK)
    return dict(os.environ, PYTHONPATH=os.pathsep.join([str(folder), str(ROOT)]))


def run_blocked(args: list[str], tmp_path: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    """``python ARGS`` with torch blocked; asserts nothing."""
    return subprocess.run(
        [sys.executable, *args], cwd=tmp_path, env=blocked_env(tmp_path),
        capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
