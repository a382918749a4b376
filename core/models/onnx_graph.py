"""What an ONNX file is, read with ONNX Runtime (no torch, no onnx package): its one image input,
its one score output, and its metadata; a file that is not an image classifier is one clear
:class:`~core.errors.CheckpointError`.

A classifier here takes one float image batch, (N, 3, H, W) (or (N, H, W, 3)), with a fixed or
free batch size and a square or free image size, and gives one (N, classes) output: logits, or
probabilities already (told from its values as it runs).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import CheckpointError

log = logging.getLogger(__name__)

NEEDS = "an image classifier: one image input (N, 3, H, W) and one (N, classes) output"


@dataclass(frozen=True, slots=True)
class GraphInfo:
    """The facts of an ONNX classifier graph that feeding and reading it need."""

    input: str
    output: str
    input_size: int | None  # fixed height = width; None: any
    batch: int | None  # fixed batch size; None: any
    channels_last: bool
    num_classes: int
    metadata: dict[str, str]
    producer: str


def read_graph(path: str | Path) -> GraphInfo:
    """The graph's facts; CheckpointError (one line, naming the file) when it is not ONNX or
    not an image classifier, or when ONNX Runtime is not installed."""
    path = Path(path)
    session = _session(path)
    inputs, outputs = session.get_inputs(), session.get_outputs()
    name = path.name
    if len(inputs) != 1:
        listed = ", ".join(i.name for i in inputs[:4])
        raise CheckpointError(
            f"{name} takes {len(inputs)} inputs ({listed}): Pigeonhole needs {NEEDS}."
        )
    if len(outputs) != 1:
        listed = ", ".join(o.name for o in outputs[:4])
        raise CheckpointError(
            f"{name} gives {len(outputs)} outputs ({listed}), like a detector: Pigeonhole "
            f"needs {NEEDS}."
        )
    inp, out = inputs[0], outputs[0]
    if inp.type not in ("tensor(float)",):
        raise CheckpointError(
            f"{name} takes {inp.type} input: Pigeonhole feeds float32 images ({NEEDS})."
        )
    batch, channels_last, size = _input_layout(name, inp.shape)
    if len(out.shape) != 2:
        raise CheckpointError(
            f"{name} gives a {len(out.shape)}-D output {_shape(out.shape)}, not (N, classes) "
            f"scores: Pigeonhole needs {NEEDS}."
        )
    classes = out.shape[1] if isinstance(out.shape[1], int) else None
    if classes is None:
        classes = _probe_classes(session, inp.name, batch, channels_last, size)
    if classes < 1:
        raise CheckpointError(f"{name} gives no scores: Pigeonhole needs {NEEDS}.")
    meta = session.get_modelmeta()
    return GraphInfo(
        inp.name, out.name, size, batch, channels_last, int(classes),
        dict(meta.custom_metadata_map or {}), str(meta.producer_name or ""),
    )  # fmt: skip


def _session(path: Path):
    """A session that only looks (no graph optimisation, one thread)."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise CheckpointError(
            f"{path.name} is an ONNX model: it needs ONNX Runtime (pip install onnxruntime)."
        ) from None
    if not path.is_file():
        raise CheckpointError(f"Model {path} does not exist.")
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as e:  # ORT raises its own types for files it cannot read
        log.debug("ONNX Runtime cannot open %s", path, exc_info=True)
        lines = str(e).strip().splitlines()
        why = (lines[0] if lines else type(e).__name__)[:200]
        raise CheckpointError(
            f"{path.name} is not an ONNX model ONNX Runtime can run ({why})."
        ) from None


def _shape(shape) -> str:
    return "(" + ", ".join(str(d) if isinstance(d, int) else "?" for d in shape) + ")"


def _input_layout(name: str, shape) -> tuple[int | None, bool, int | None]:
    """(fixed batch size, channels last, fixed square size) of an image input's shape."""
    if len(shape) != 4:
        raise CheckpointError(
            f"{name} takes a {len(shape)}-D input {_shape(shape)}, not images (N, 3, H, W): "
            f"Pigeonhole needs {NEEDS}."
        )
    fixed = [d if isinstance(d, int) and d > 0 else None for d in shape]
    if fixed[1] in (3, None) and not (fixed[1] is None and fixed[3] == 3):
        channels_last, (h, w) = False, fixed[2:]
    elif fixed[3] == 3:
        channels_last, (h, w) = True, fixed[1:3]
    else:
        raise CheckpointError(
            f"{name} takes {_shape(shape)} input: not RGB images (N, 3, H, W); Pigeonhole "
            f"needs {NEEDS}."
        )
    if h is not None and w is not None and h != w:
        raise CheckpointError(
            f"{name} takes {w}x{h} images: Pigeonhole feeds square crops (N, 3, S, S)."
        )
    return fixed[0], channels_last, h or w


def _probe_classes(
    session, name: str, batch: int | None, channels_last: bool, size: int | None
) -> int:
    """The class count of a graph whose output does not state it: one run on a blank image."""
    s = size or 224
    shape = (batch or 1, s, s, 3) if channels_last else (batch or 1, 3, s, s)
    try:
        out = session.run(None, {name: np.zeros(shape, np.float32)})[0]
    except Exception as e:  # ORT's own error types: the graph does not run on such an input
        log.debug("probing the output size failed", exc_info=True)
        raise CheckpointError(
            f"The model does not run on a {s}x{s} image ({str(e)[:160]})."
        ) from None
    if out.ndim != 2:
        raise CheckpointError(f"The model gives a {out.ndim}-D output, not (N, classes) scores.")
    return int(out.shape[1])
