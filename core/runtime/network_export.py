"""Export a model for use elsewhere: ONNX (for ONNX Runtime, OpenCV, TensorRT, Core ML tools...)
or TorchScript (for libtorch, C++ and mobile), each with its class names and preprocessing
inside, and checked against the PyTorch model before it is called done.

ONNX: opset 17 (ONNX Runtime 1.14 and newer, OpenCV 4.8, TensorRT 8.6), a free batch size,
input ``input`` float32 (N, 3, crop, crop) already preprocessed, output ``output`` logits; the
class names, the preprocessing (its dict and a sentence) and the architecture are in the file's
metadata properties. TorchScript: a traced module with the same facts as extra files
(``class_names.json``, ``preprocessing.json``, ``model.json``).
"""

from __future__ import annotations

import io
import json
import logging
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from ..data.preprocessing import crop_uint8, normalize_batch
from ..data.synthetic import photo_like
from ..errors import EngineError, PigeonholeError
from ..fileio import write_bytes_atomic
from ..models.loaded import LoadedModel
from ..models.onnx_models import export_metadata
from .onnx_engine import ONNX_OPSET
from .onnx_export import export_onnx

log = logging.getLogger(__name__)

FORMATS = {"onnx": ".onnx", "torchscript": ".pt"}
CHECK_IMAGES = 8  # generated photos the export is checked on
TOLERANCE = 1e-3  # largest logit difference accepted between the export and PyTorch


@dataclass(frozen=True, slots=True)
class ExportReport:
    """What was written and how well it agrees with the PyTorch model."""

    path: Path
    format: str
    seconds: float
    images: int  # checked on
    top1_identical: float  # share of images with the same top-1 as PyTorch
    max_logit_diff: float

    def line(self) -> str:
        what = f"ONNX, opset {ONNX_OPSET}" if self.format == "onnx" else "TorchScript"
        checker = "ONNX Runtime" if self.format == "onnx" else "libtorch"
        return (
            f"wrote {self.path} ({what}, any batch size; class names and preprocessing inside) "
            f"in {self.seconds:.1f} s; checked with {checker} on {self.images} images: top-1 "
            f"identical {self.top1_identical:.0%}, max |logit diff| {self.max_logit_diff:.1e}"
        )


def export_format(path: str | os.PathLike, fmt: str | None = None) -> str:
    """The format asked for, or the one ``path``'s suffix names; a clear error otherwise."""
    if fmt:
        if fmt not in FORMATS:
            raise PigeonholeError(f"Unknown format '{fmt}': use {' or '.join(FORMATS)}.")
        return fmt
    for name, suffix in FORMATS.items():
        if Path(path).suffix.lower() == suffix:
            return name
    raise PigeonholeError(
        f"Cannot tell the format of '{path}': use --format onnx or torchscript (or a .onnx/.pt name)."
    )


def facts(loaded: LoadedModel) -> dict[str, str]:
    """What travels inside an exported file, as strings (core.models.onnx_models reads it)."""
    return export_metadata(loaded)


def export_model(loaded: LoadedModel, fmt: str, path: str | os.PathLike) -> ExportReport:
    """Write ``loaded`` as ``fmt`` to ``path`` (atomically) and check it against PyTorch on
    generated photos; an export that disagrees is an error, and the file is removed."""
    path = Path(path)
    loaded.require_torch("Exporting")
    t0 = time.perf_counter()
    model = loaded.model.eval()
    crop = loaded.transform.crop
    if fmt == "onnx":
        _write_onnx(loaded, path, crop)
    else:
        _write_torchscript(loaded, path, crop)
    seconds = time.perf_counter() - t0
    x = _check_inputs(loaded)
    with torch.inference_mode():
        want = model(x).float()
    got = _run_onnx(path, x) if fmt == "onnx" else _run_torchscript(path, x)
    same = (got.argmax(1) == want.argmax(1)).float().mean().item()
    diff = (got - want).abs().max().item()
    report = ExportReport(path, fmt, seconds, len(x), same, diff)
    if same < 1.0 or diff > TOLERANCE:
        path.unlink(missing_ok=True)
        raise EngineError(
            f"The {fmt} export does not reproduce the model (top-1 identical {same:.0%}, "
            f"max |logit diff| {diff:.1e}); nothing was kept."
        )
    return report


def _write_onnx(loaded: LoadedModel, path: Path, crop: int) -> None:
    doc = f"{loaded.arch} exported by Pigeonhole: {loaded.names_line()}"
    export_onnx(loaded.model, path, crop, metadata=facts(loaded), doc=doc)


def _write_torchscript(loaded: LoadedModel, path: Path, crop: int) -> None:
    example = torch.zeros(1, 3, crop, crop)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # tracer warnings about Python control flow
            traced = torch.jit.trace(loaded.model.eval(), example, check_trace=False)
    except Exception as e:  # any tracer failure means "this network does not trace"
        log.debug("TorchScript export failed", exc_info=True)
        raise EngineError(f"{loaded.arch} does not export to TorchScript ({e})") from e
    f = facts(loaded)
    extra = {
        "class_names.json": f["class_names"],
        "preprocessing.json": f["preprocessing"],
        "model.json": json.dumps(
            {k: v for k, v in f.items() if k not in ("class_names", "preprocessing")}
        ),
    }
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TorchScript's own deprecation notices
        torch.jit.save(traced, buffer, _extra_files=extra)
    write_bytes_atomic(path, buffer.getvalue())


def _check_inputs(loaded: LoadedModel) -> torch.Tensor:
    crops = [
        crop_uint8(photo_like(100 + i, (320, 240)), loaded.transform) for i in range(CHECK_IMAGES)
    ]
    return normalize_batch(torch.stack(crops), loaded.transform)


def _run_onnx(path: Path, x: torch.Tensor) -> torch.Tensor:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    return torch.from_numpy(out).float()


def _run_torchscript(path: Path, x: torch.Tensor) -> torch.Tensor:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        module = torch.jit.load(str(path), map_location="cpu")
    with torch.inference_mode():
        return module(x).float()
