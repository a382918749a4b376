"""`pigeonhole --self-test [--report FILE.json]`: prove this installation (or frozen app) works.

Runs the real pipeline end to end on generated data, in a temporary folder: imports, the Qt
platform and the main window, torchvision's compiled operators, a small network, a checkpoint
round trip, its ONNX export, classification with an ONNX model on ONNX Runtime alone, batched
classification, one image of each format decoded, and head training. Each step is timed and recorded as
passed/failed/skipped with a message, or "unavailable" where it proves what this build does not
have (the lite bundle has no PyTorch; the steps are in pigeonhole.selftest_steps); the JSON
report is written atomically and the exit code is 0 only if every step passed or is
unavailable. The user's settings, caches and data folders are not touched.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from pigeonhole.core import __version__
from pigeonhole.core.fileio import write_text_atomic
from pigeonhole.selftest_steps import (  # noqa: F401 (check, StepFailed: the steps' helpers)
    Context,
    StepFailed,
    StepSkipped,
    StepUnavailable,
    bundle_kind,
    check,
    process_age_s,
    step_checkpoint,
    step_classify,
    step_export,
    step_formats,
    step_imports,
    step_model,
    step_onnx,
    step_qt,
    step_torchvision_ops,
    step_train,
)

STEPS: list[tuple[str, Callable[[Context], tuple[str, dict]]]] = [
    # The window first: the time from launch to it is then the app's own start-up path
    # (Python, Qt, the main window and what its tabs import), as when a user opens the app.
    ("qt", step_qt),
    ("imports", step_imports),
    ("torchvision_ops", step_torchvision_ops),
    ("model", step_model),
    ("checkpoint", step_checkpoint),
    ("export", step_export),
    ("onnx", step_onnx),
    ("classify", step_classify),
    ("formats", step_formats),
    ("train", step_train),
]


@dataclass(slots=True)
class StepResult:
    name: str
    status: str  # "passed" | "failed" | "skipped" | "unavailable"
    seconds: float
    message: str
    details: dict = field(default_factory=dict)


#: What a step's status may be; "unavailable": not in this build (the lite one has no PyTorch).
OK_STATUSES = ("passed", "unavailable")


# --- running -------------------------------------------------------------------------------


@contextlib.contextmanager
def isolated_environment(workdir: Path) -> Iterator[None]:
    """Point the app's cache/data folders and torch's at the temp folder while testing."""
    names = {
        "PIGEONHOLE_CACHE_DIR": workdir / "cache",
        "PIGEONHOLE_DATA_DIR": workdir / "data",
        "TORCH_HOME": workdir / "torch",
    }
    saved = {k: os.environ.get(k) for k in names}
    os.environ.update({k: str(v) for k, v in names.items()})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run_steps(
    workdir: Path, steps=None, echo: Callable[[str], None] | None = None
) -> list[StepResult]:
    ctx = Context(workdir)
    results = []
    for name, func in steps if steps is not None else STEPS:
        t0 = time.perf_counter()
        details: dict = {}
        try:
            message, details = func(ctx)
            status = "passed"
        except StepSkipped as e:
            status, message = "skipped", str(e)
        except StepUnavailable as e:
            status, message = "unavailable", str(e)
        except StepFailed as e:
            status, message = "failed", str(e)
        except Exception as e:  # noqa: BLE001 (an unexpected error is a failed step, with its trace)
            status, message = "failed", f"{type(e).__name__}: {e}"
            details = {"traceback": traceback.format_exc()}
        result = StepResult(name, status, round(time.perf_counter() - t0, 3), message, details)
        results.append(result)
        if echo:
            mark = {"passed": "ok  ", "failed": "FAIL", "skipped": "skip", "unavailable": "n/a "}
            mark = mark[status]
            echo(
                f"  {mark}  {name:<16} {result.seconds:6.2f} s  {message.splitlines()[0] if message else ''}"
            )
    return results


def build_report(results: list[StepResult], total_s: float) -> dict:
    passed = any(r.status == "passed" for r in results) and all(
        r.status in OK_STATUSES for r in results
    )
    return {
        "app": "Pigeonhole",
        "version": __version__,
        "passed": passed,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "frozen": bool(getattr(sys, "frozen", False)),
        "bundle": bundle_kind(),
        "executable": sys.executable,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "total_s": round(total_s, 3),
        "steps": [asdict(r) for r in results],
    }


def run(report: str | None = None, steps=None) -> int:
    """The `--self-test` command: 0 if every step passed, 1 otherwise."""
    print(
        f"Pigeonhole {__version__} self-test ({'frozen app' if getattr(sys, 'frozen', False) else 'Python ' + platform.python_version()})"
    )
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="pigeonhole-selftest-") as tmp:
        workdir = Path(tmp)
        with isolated_environment(workdir):
            results = run_steps(workdir, steps, echo=lambda line: print(line, flush=True))
    data = build_report(results, time.perf_counter() - t0)
    if report:
        write_text_atomic(Path(report).expanduser(), json.dumps(data, indent=2) + "\n")
    n_ok = sum(r.status == "passed" for r in results)
    n_absent = sum(r.status == "unavailable" for r in results)
    verdict = "passed" if data["passed"] else "FAILED"
    print(
        f"Self-test {verdict}: {n_ok}/{len(results)} steps in {data['total_s']:.1f} s"
        + (f" ({n_absent} need the full install)" if n_absent else "")
        + (f"; report: {report}" if report else "")
    )
    return 0 if data["passed"] else 1
