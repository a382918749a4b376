"""`pigeonhole --self-test [--report FILE.json]`: prove this installation (or frozen app) works.

Runs the real pipeline end to end on generated data, in a temporary folder: imports, the Qt
platform and the main window, torchvision's compiled operators, a small network, a checkpoint
round trip, batched classification and head training. Each step is timed and recorded as
passed/failed/skipped with a message; the JSON report is written atomically and the exit code
is 0 only if every step passed. The user's settings, caches and data folders are not touched.
"""

from __future__ import annotations

import contextlib
import importlib
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

ARCH = "mobilenet_v3_small"  # small and quick; random weights (no download needed)
CLASSES = ("red", "blue")
# Modules that must import in every build (the contracts other code relies on).
REQUIRED_MODULES = (
    "pigeonhole.core.models.archs",
    "pigeonhole.core.models.checkpoints",
    "pigeonhole.cli",
    "pigeonhole.core.devices",
    "pigeonhole.core.results.writing",
    "pigeonhole.core.fileio",
    "pigeonhole.core.data.images",
    "pigeonhole.core.runtime.inference",
    "pigeonhole.core.results.sorting",
    "pigeonhole.core.data.synthetic",
    "pigeonhole.core.training.fine_tune",
    "pigeonhole.gui.app",
    "pigeonhole.gui.main_window",
    "pigeonhole.gui.widgets.workers",
    "numpy",
    "PIL.Image",
    "safetensors.torch",
    "platformdirs",
    "torch",
    "torchvision",
    "torchvision.ops",
    "PySide6.QtCore",
    "PySide6.QtGui",
    "PySide6.QtWidgets",
    "pyqtgraph",
)


class StepFailed(Exception):
    """A check inside a step did not hold; the message says which."""


class StepSkipped(Exception):
    """A step could not run because an earlier one failed."""


@dataclass(slots=True)
class StepResult:
    name: str
    status: str  # "passed" | "failed" | "skipped"
    seconds: float
    message: str
    details: dict = field(default_factory=dict)


@dataclass(slots=True)
class Context:
    """What the steps share: the temp folder and the objects earlier steps made."""

    workdir: Path
    state: dict = field(default_factory=dict)

    def need(self, key: str):
        if key not in self.state:
            raise StepSkipped(f"needs '{key}' from an earlier step, which failed")
        return self.state[key]


def check(condition: bool, message: str) -> None:
    if not condition:
        raise StepFailed(message)


# --- steps ---------------------------------------------------------------------------------


def step_imports(ctx: Context) -> tuple[str, dict]:
    failed = {}
    for name in REQUIRED_MODULES:
        try:
            importlib.import_module(name)
        except Exception as e:  # noqa: BLE001 (any import error is the finding)
            failed[name] = f"{type(e).__name__}: {e}"
    # every module of the app, found the way the frozen importer lists them
    import pkgutil

    modules = []
    for pkg_name in ("pigeonhole.commands", "pigeonhole.core", "pigeonhole.gui"):
        pkg = importlib.import_module(pkg_name)
        for info in pkgutil.walk_packages(pkg.__path__, f"{pkg_name}."):
            if info.name.endswith("__main__"):
                continue
            try:
                importlib.import_module(info.name)
                modules.append(info.name)
            except Exception as e:  # noqa: BLE001
                failed[info.name] = f"{type(e).__name__}: {e}"
    check(not failed, "cannot import " + "; ".join(f"{k} ({v})" for k, v in failed.items()))
    import torch
    import torchvision

    from pigeonhole.gui import selftest_window

    details = {
        "modules": len(modules),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "pyside6": selftest_window.pyside_version(),
        "cuda_build": torch.version.cuda,
    }
    return f"{len(REQUIRED_MODULES) + len(modules)} modules imported", details


def step_qt(ctx: Context) -> tuple[str, dict]:
    """The Qt platform plugin loads, the main window opens and paints (checked by gui/)."""
    if (
        sys.platform.startswith("linux")
        and not os.environ.get("QT_QPA_PLATFORM")
        and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    ):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"  # no display: Qt would abort otherwise
    from pigeonhole.gui import selftest_window  # Qt is imported only now

    problem, details = selftest_window.open_main_window(ctx.workdir)
    check(problem is None, problem or "")
    since_launch = process_age_s()
    details["launch_to_window_s"] = None if since_launch is None else round(since_launch, 3)
    return (
        f"platform '{details['platform']}', window shown in {details['window_show_s']:.2f} s",
        details,
    )


def step_torchvision_ops(ctx: Context) -> tuple[str, dict]:
    """torchvision's compiled operators and image codecs (separate native libraries)."""
    import io

    import torch
    import torchvision
    from PIL import Image

    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30]], dtype=torch.float32)
    keep = torchvision.ops.nms(boxes, torch.tensor([0.9, 0.8, 0.7]), 0.5)
    check(keep.tolist() == [0, 2], f"torchvision.ops.nms gave {keep.tolist()}")
    buf = io.BytesIO()
    Image.new("RGB", (24, 16), (200, 40, 40)).save(buf, "JPEG")
    data = torch.frombuffer(bytearray(buf.getvalue()), dtype=torch.uint8)
    decoded = torchvision.io.decode_jpeg(data)
    check(tuple(decoded.shape) == (3, 16, 24), f"decode_jpeg gave shape {tuple(decoded.shape)}")
    return "nms and decode_jpeg work", {}


def step_model(ctx: Context) -> tuple[str, dict]:
    import torch

    from pigeonhole.core.models.archs import build_model, count_params

    model = build_model(ARCH, num_classes=len(CLASSES))
    with torch.no_grad():
        out = model(torch.rand(2, 3, 224, 224))
    check(tuple(out.shape) == (2, len(CLASSES)), f"output shape {tuple(out.shape)}")
    check(bool(torch.isfinite(out).all()), "the network's output is not finite")
    ctx.state["model"] = model
    return f"{ARCH} built and run", {"arch": ARCH, "parameters": count_params(model)}


def step_checkpoint(ctx: Context) -> tuple[str, dict]:
    import torch

    from pigeonhole.core.models.archs import get_arch
    from pigeonhole.core.models.checkpoints import ModelSource, load_model, save_checkpoint

    model = ctx.need("model")
    path = ctx.workdir / "selftest.pth"
    save_checkpoint(
        path, model, ARCH, list(CLASSES), get_arch(ARCH).transform, metrics={"selftest": True}
    )
    loaded = load_model(ModelSource(checkpoint=str(path)))
    check(loaded.arch == ARCH, f"reloaded as {loaded.arch}")
    check(list(loaded.class_names) == list(CLASSES), f"class names {loaded.class_names}")
    x = torch.rand(1, 3, 224, 224)
    with torch.no_grad():
        same = torch.allclose(model(x), loaded.model(x), atol=1e-5)
    check(same, "the reloaded network gives different outputs")
    ctx.state["checkpoint"] = path
    ctx.state["loaded"] = loaded
    return "saved and reloaded with identical outputs", {"bytes": path.stat().st_size}


def step_classify(ctx: Context) -> tuple[str, dict]:
    from pigeonhole.core.data.synthetic import make_class_folders
    from pigeonhole.core.runtime.inference import Classifier
    from pigeonhole.core.runtime.options import RunOptions
    from pigeonhole.core.tasks import run_to_end

    loaded = ctx.need("loaded")
    folder = make_class_folders(ctx.workdir / "classify", per_class=5, classes=CLASSES)
    (folder / "notes.txt").write_text("not an image")
    classifier = Classifier(loaded, RunOptions(device="cpu", batch_size=4), topk=2)
    predictions = []
    summary = run_to_end(classifier.run([folder]), lambda b: predictions.extend(b.predictions))
    check(len(predictions) == 10, f"{len(predictions)} predictions for 10 images")
    errors = [p.error for p in predictions if not p.ok]
    check(not errors, f"images failed: {errors[:3]}")
    check(all(p.label in CLASSES for p in predictions), "a prediction has an unknown label")
    check(all(p.infer_ms > 0 and p.decode_ms >= 0 for p in predictions), "missing timings")
    check(summary is not None and summary.processed == 10, f"summary: {summary}")
    details = summary.to_dict()
    return summary.line(), details


def step_formats(ctx: Context) -> tuple[str, dict]:
    """One generated file of each format decodes: JPEG, HEIC, AVIF, WebP, PNG (16-bit,
    palette), TIFF, CMYK, GIF, DNG (RAW: required in the bundle, an extra otherwise), JPEG XL
    (an extra, never bundled)."""
    from pigeonhole.core.data.samples import decode_every_format

    folder = ctx.workdir / "formats"
    folder.mkdir()
    results = decode_every_format(folder)
    optional = {"jxl"} | (set() if getattr(sys, "frozen", False) else {"dng", "dng-mosaic"})
    bad = {
        f: r
        for f, r in results.items()
        if r != "ok" and not (f in optional and r == "not installed")
    }
    check(not bad, "formats not decoded: " + "; ".join(f"{f} ({r})" for f, r in bad.items()))
    read = [f for f, r in results.items() if r == "ok"]
    return f"{len(read)} formats decoded ({', '.join(read)})", results


def step_train(ctx: Context) -> tuple[str, dict]:
    import math

    from pigeonhole.core.data.synthetic import make_train_val
    from pigeonhole.core.models.checkpoints import ModelSource, load_model
    from pigeonhole.core.runtime.options import RunOptions
    from pigeonhole.core.tasks import run_to_end
    from pigeonhole.core.training.fine_tune import TrainConfig, train_classifier

    checkpoint = ctx.need("checkpoint")
    data = make_train_val(ctx.workdir / "train", train=6, val=3, classes=CLASSES)
    base = load_model(ModelSource(checkpoint=str(checkpoint)))  # training modifies it in place
    config = TrainConfig(
        epochs=2, patience=0, use_cache=False, run=RunOptions(device="cpu", precision="fp32")
    )
    result = run_to_end(
        train_classifier(data / "train", val_dir=data / "val", base=base, config=config)
    )
    check(len(result.history) == 2, f"{len(result.history)} epochs trained, expected 2")
    check(all(math.isfinite(e.train_loss) for e in result.history), "training loss not finite")
    check(result.val_accuracy is not None, "no validation accuracy")
    saved = result.save(ctx.workdir / "trained.pth")
    reloaded = load_model(ModelSource(checkpoint=str(saved)))
    check(
        sorted(reloaded.class_names) == sorted(CLASSES), f"trained classes {reloaded.class_names}"
    )
    details = {
        "epochs": len(result.history),
        "val_accuracy": result.val_accuracy,
        "extraction_s": round(result.extraction_s, 3),
        "training_s": round(result.training_s, 3),
    }
    return f"2 epochs, validation accuracy {result.val_accuracy:.2f}", details


STEPS: list[tuple[str, Callable[[Context], tuple[str, dict]]]] = [
    # The window first: the time from launch to it is then the app's own start-up path
    # (Python, Qt, the main window and what its tabs import), as when a user opens the app.
    ("qt", step_qt),
    ("imports", step_imports),
    ("torchvision_ops", step_torchvision_ops),
    ("model", step_model),
    ("checkpoint", step_checkpoint),
    ("classify", step_classify),
    ("formats", step_formats),
    ("train", step_train),
]


# --- running -------------------------------------------------------------------------------


def process_age_s() -> float | None:
    """Seconds since this process started (Linux /proc), else None."""
    try:
        stat = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        start_ticks = int(stat[19])  # field 22: starttime, in clock ticks after boot
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return uptime - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


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
        except StepFailed as e:
            status, message = "failed", str(e)
        except Exception as e:  # noqa: BLE001 (an unexpected error is a failed step, with its trace)
            status, message = "failed", f"{type(e).__name__}: {e}"
            details = {"traceback": traceback.format_exc()}
        result = StepResult(name, status, round(time.perf_counter() - t0, 3), message, details)
        results.append(result)
        if echo:
            mark = {"passed": "ok  ", "failed": "FAIL", "skipped": "skip"}[status]
            echo(
                f"  {mark}  {name:<16} {result.seconds:6.2f} s  {message.splitlines()[0] if message else ''}"
            )
    return results


def build_report(results: list[StepResult], total_s: float) -> dict:
    passed = bool(results) and all(r.status == "passed" for r in results)
    return {
        "app": "Pigeonhole",
        "version": __version__,
        "passed": passed,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "frozen": bool(getattr(sys, "frozen", False)),
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
    verdict = "passed" if data["passed"] else "FAILED"
    print(
        f"Self-test {verdict}: {n_ok}/{len(results)} steps in {data['total_s']:.1f} s"
        + (f"; report: {report}" if report else "")
    )
    return 0 if data["passed"] else 1
