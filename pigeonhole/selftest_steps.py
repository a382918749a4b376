"""The steps of `pigeonhole --self-test` (pigeonhole.selftest runs them): each proves one part of
this installation on generated data and returns (message, details), or raises StepFailed,
StepSkipped (an earlier step it needs failed) or StepUnavailable (not in this build: the lite
install has no PyTorch, so the steps that need it are reported as such, not failed).
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

ARCH = "mobilenet_v3_small"  # small and quick; random weights (no download needed)
CLASSES = ("red", "blue")
LITE, FULL = "lite", "full"
#: Written by build.spec into the bundle: {"bundle": "lite" | "full"}.
BUNDLE_FILE = "bundle.json"
#: The ONNX model the lite bundle classifies with (made by build.spec with make_onnx_model).
SHIPPED_MODEL = Path("selftest") / "selftest.onnx"
# Modules that must import in every build (the contracts other code relies on).
REQUIRED_MODULES = (
    "pigeonhole.cli",
    "pigeonhole.core.fileio",
    "pigeonhole.core.data.synthetic",
    "pigeonhole.core.runtime.options",
    "pigeonhole.core.training.records",
    "pigeonhole.gui.app",
    "pigeonhole.gui.main_window",
    "pigeonhole.gui.widgets.workers",
    "numpy",
    "PIL.Image",
    "platformdirs",
    "onnxruntime",
    "PySide6.QtCore",
    "PySide6.QtGui",
    "PySide6.QtWidgets",
    "pyqtgraph",
)
# ...and those that must import where PyTorch is part of the build.
TORCH_MODULES = (
    "pigeonhole.core.models.archs",
    "pigeonhole.core.models.checkpoints",
    "pigeonhole.core.devices",
    "pigeonhole.core.results.writing",
    "pigeonhole.core.data.images",
    "pigeonhole.core.runtime.inference",
    "pigeonhole.core.results.sorting",
    "pigeonhole.core.training.fine_tune",
    "safetensors.torch",
    "torch",
    "torchvision",
    "torchvision.ops",
)


class StepFailed(Exception):
    """A check inside a step did not hold; the message says which."""


class StepSkipped(Exception):
    """A step could not run because an earlier one failed."""


class StepUnavailable(Exception):
    """A step proves a part this build does not have (PyTorch, in the lite install)."""


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


def bundle_kind() -> str:
    """ "lite" (no PyTorch, by design) or "full". A frozen app says which it was built as
    (so a full bundle whose torch is broken fails, never passes as lite); from source, it is
    lite where torch is not installed."""
    if getattr(sys, "frozen", False):
        from pigeonhole.core.fileio import resources_dir

        marker = resources_dir() / BUNDLE_FILE
        if marker.is_file():
            return json.loads(marker.read_text(encoding="utf-8")).get("bundle", FULL)
        return FULL
    return FULL if importlib.util.find_spec("torch") is not None else LITE


def process_age_s() -> float | None:
    """Seconds since this process started (Linux /proc), else None."""
    try:
        stat = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        start_ticks = int(stat[19])  # field 22: starttime, in clock ticks after boot
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return uptime - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def need_torch() -> None:
    """The calling step proves PyTorch's part: not in the lite build."""
    if bundle_kind() == LITE:
        raise StepUnavailable("needs the full install: PyTorch is not in this build")


def _missing_torch(error: BaseException) -> bool:
    """The import failed because torch or torchvision is not there (the lite build)."""
    name = getattr(error, "name", None) or ""
    return isinstance(error, ImportError) and name.split(".")[0] in ("torch", "torchvision")


# --- steps ---------------------------------------------------------------------------------


def step_imports(ctx: Context) -> tuple[str, dict]:
    """Every module the app needs imports; in the lite build the torch ones are listed."""
    lite = bundle_kind() == LITE
    failed, needs_torch = {}, []
    for name in REQUIRED_MODULES + (() if lite else TORCH_MODULES):
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
                if lite and _missing_torch(e):
                    needs_torch.append(info.name)
                else:
                    failed[info.name] = f"{type(e).__name__}: {e}"
    check(not failed, "cannot import " + "; ".join(f"{k} ({v})" for k, v in failed.items()))
    from pigeonhole.gui import selftest_window

    details = {
        "bundle": bundle_kind(),
        "modules": len(modules),
        "pyside6": selftest_window.pyside_version(),
        "onnxruntime": importlib.import_module("onnxruntime").__version__,
    }
    if lite:
        details["need_torch"] = needs_torch
        return f"{len(modules)} modules imported ({len(needs_torch)} need PyTorch)", details
    import torch
    import torchvision

    details.update(torch=torch.__version__, torchvision=torchvision.__version__)
    details["cuda_build"] = torch.version.cuda
    return f"{len(REQUIRED_MODULES) + len(TORCH_MODULES) + len(modules)} modules imported", details


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
    details["torch_imported"] = "torch" in sys.modules  # the window opens without it
    return (
        f"platform '{details['platform']}', window shown in {details['window_show_s']:.2f} s",
        details,
    )


def step_torchvision_ops(ctx: Context) -> tuple[str, dict]:
    """torchvision's compiled operators and image codecs (separate native libraries)."""
    need_torch()
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
    need_torch()
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
    need_torch()
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


def make_onnx_model(path: Path, loaded=None) -> Path:
    """Export ``loaded`` (by default: a seeded random mobilenet_v3_small for CLASSES) as ONNX
    with its names and preprocessing inside, checked against torch (build.spec ships one in
    the lite bundle, made with the build's torch)."""
    import torch

    from pigeonhole.core.models.archs import build_model, get_arch
    from pigeonhole.core.models.loaded import LoadedModel
    from pigeonhole.core.runtime.network_export import export_model

    if loaded is None:
        torch.manual_seed(0)
        model = build_model(ARCH, num_classes=len(CLASSES))
        loaded = LoadedModel(model, ARCH, list(CLASSES), get_arch(ARCH).transform, "self-test")
    export_model(loaded, "onnx", path)
    return path


def step_export(ctx: Context) -> tuple[str, dict]:
    """The checkpoint exported as ONNX (for other tools; the next step classifies with it)."""
    need_torch()
    path = make_onnx_model(ctx.workdir / "selftest.onnx", ctx.need("loaded"))
    ctx.state["onnx"] = path
    return "exported as ONNX and checked against PyTorch", {"bytes": path.stat().st_size}


def step_onnx(ctx: Context) -> tuple[str, dict]:
    """An ONNX model classifies generated images through the app's own path (load_for_run, the
    Classifier) on ONNX Runtime, without importing PyTorch: the model the export step made,
    else the one shipped in the bundle."""
    from pigeonhole.core.data.synthetic import make_class_folders
    from pigeonhole.core.fileio import resources_dir
    from pigeonhole.core.models.loaded import ModelSource
    from pigeonhole.core.runtime.inference import Classifier
    from pigeonhole.core.runtime.loading import load_for_run
    from pigeonhole.core.runtime.options import RunOptions
    from pigeonhole.core.tasks import run_to_end

    path = Path(ctx.state.get("onnx") or resources_dir() / SHIPPED_MODEL)
    check(path.is_file(), f"no ONNX model to classify with ({path} is missing)")
    had_torch = "torch" in sys.modules
    options = RunOptions(device="cpu", batch_size=4)
    loaded = load_for_run(ModelSource.chosen(str(path)), options)
    check(loaded.is_onnx, f"{path.name} was not loaded as an ONNX model")
    check(list(loaded.class_names) == list(CLASSES), f"class names {loaded.class_names}")
    folder = make_class_folders(ctx.workdir / "onnx", per_class=5, classes=CLASSES)
    predictions = []
    clf = Classifier(loaded, options, topk=2)
    summary = run_to_end(clf.run([folder]), lambda b: predictions.extend(b.predictions))
    check(len(predictions) == 10, f"{len(predictions)} predictions for 10 images")
    check(all(p.ok and p.label in CLASSES for p in predictions), "a prediction failed")
    check(summary.engine == "onnxruntime", f"ran on {summary.engine}, not ONNX Runtime")
    check(had_torch or "torch" not in sys.modules, "classifying with ONNX imported torch")
    details = {"model": str(path), "images": len(predictions), "engine": summary.engine}
    return f"{len(predictions)} images classified with {path.name} on ONNX Runtime", details


def step_classify(ctx: Context) -> tuple[str, dict]:
    need_torch()
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
    need_torch()
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
