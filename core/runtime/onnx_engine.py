"""ONNX Runtime, the CPU engine: a network exported to ONNX (core.runtime.onnx_export, once,
cached by a hash of its weights in the user's cache folder) or an ONNX model file, run by ONNX
Runtime's CPU provider, which fuses the graph and picks CPU kernels itself.

Nothing here imports torch: batches are numpy arrays from decoding to top-k (a torch tensor
given to a step is read as an array). Anything that fails raises :class:`EngineError`; a torch
checkpoint then runs on torch and says why.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data.preprocessing import normalize_array
from ..errors import EngineError
from ..fileio import write_text_atomic
from ..models.transforms import TransformSpec
from .kept import EXTRA_OUTPUTS
from .plan import RunPlan
from .scores import TopK, top_k_array

log = logging.getLogger(__name__)

ONNX_OPSET = 17
INPUT, OUTPUT = "input", "output"


@dataclass(frozen=True, slots=True)
class OrtGraph:
    """How a graph is fed and read: its input and output names, its batch size when fixed
    (None: any), NHWC input, and whether its output is probabilities already (None: tell from
    each batch's values)."""

    input: str = INPUT
    output: str = OUTPUT
    batch: int | None = None
    channels_last: bool = False
    probabilities: bool | None = False


#: Pigeonhole's own exports: ``input`` (N, 3, crop, crop) normalised, ``output`` logits.
OWN_GRAPH = OrtGraph()


@dataclass(frozen=True, slots=True)
class ExportedModel:
    """One network's folder in the engine cache: ``fp32.onnx`` (or ``source``, an ONNX model
    file the person has), ``int8.onnx`` once quantised, and ``manifest.json`` (what it is, how
    long the export took, int8's measured agreement)."""

    folder: Path
    source: Path | None = None

    @property
    def fp32(self) -> Path:
        return self.source if self.source is not None else self.folder / "fp32.onnx"

    @property
    def int8(self) -> Path:
        return self.folder / "int8.onnx"

    def manifest(self) -> dict:
        try:
            return json.loads((self.folder / "manifest.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def update_manifest(self, **entries) -> None:
        write_text_atomic(
            self.folder / "manifest.json", json.dumps({**self.manifest(), **entries}, indent=1)
        )


def ort_session(path: Path, threads: int, *, optimize: bool = True):
    """An ONNX Runtime CPU session on ``threads`` intra-op threads (0: ORT's default, one per
    core). Sessions are thread-safe: the forward threads share one. ``optimize`` False: no graph
    optimisation (a quick look at a file's inputs, outputs and metadata). Raises
    :class:`EngineError` when ONNX Runtime refuses the graph."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads > 0:
        options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    levels = ort.GraphOptimizationLevel
    options.graph_optimization_level = levels.ORT_ENABLE_ALL if optimize else levels.ORT_DISABLE_ALL
    options.log_severity_level = 3  # errors only: its warnings are not the user's to act on
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as e:  # ORT raises its own exception types for unsupported graphs
        raise EngineError(f"ONNX Runtime cannot run it ({first_line(e)})") from e


def graph_input(batch, transform: TransformSpec, graph: OrtGraph = OWN_GRAPH) -> np.ndarray:
    """uint8 crops (N, 3, H, W), numpy or a CPU tensor -> the float32 input ``graph`` takes:
    normalised as ``transform`` says (as torch's steps do, bit for bit), NHWC if it wants."""
    x = normalize_array(np.asarray(batch), transform)
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1)) if graph.channels_last else x


class OrtStep:
    """The batch step (see :class:`core.runtime.step.DeviceStep`: same methods) on ONNX Runtime,
    in numpy: uint8 crops are normalised exactly as for torch, run by the session (in pieces of
    the graph's batch size when it is fixed), then softmax top-k."""

    engine = "onnxruntime"

    def __init__(
        self,
        session,
        plan: RunPlan,
        transform: TransformSpec,
        note: str = "",
        graph: OrtGraph = OWN_GRAPH,
    ):
        self.session = session
        self.plan = plan
        self.transform = transform
        self.note = note  # e.g. int8's measured agreement with fp32
        self.graph = graph
        self.max_batch = plan.batch_size
        self.exported: ExportedModel | None = None  # a torch network's export in the cache
        # The graph's outputs after the logits that a run keeps (core.runtime.kept): a
        # Pigeonhole export made with them has them, other graphs none.
        names = {o.name for o in session.get_outputs()}
        self.extra_outputs = tuple(n for n in EXTRA_OUTPUTS if n in names and n != graph.output)

    def to_input(self, batch) -> np.ndarray:
        """uint8 (N, 3, H, W) (numpy, or a CPU tensor) -> the float32 array the graph takes."""
        return graph_input(batch, self.transform, self.graph)

    def forward(self, x) -> np.ndarray:
        """The graph's output (float32) for an input array (or a CPU tensor)."""
        return self.forward_all(x)[0]

    def forward_all(self, x) -> tuple[np.ndarray, ...]:
        """The logits, then the extra outputs (float32), for an input array."""
        x = np.asarray(x, dtype=np.float32)
        size = self.graph.batch
        if size is None or len(x) == size:
            return self._run(x)
        parts = []
        for start in range(0, len(x), size):
            part = x[start : start + size]
            n = len(part)
            if n < size:  # a fixed batch size: pad the last piece, keep its own rows
                part = np.concatenate([part, np.zeros((size - n, *part.shape[1:]), part.dtype)])
            parts.append([o[:n] for o in self._run(part)])
        return tuple(np.concatenate(outs) for outs in zip(*parts, strict=True))

    def _run(self, x: np.ndarray) -> tuple[np.ndarray, ...]:
        names = [self.graph.output, *self.extra_outputs]
        outs = self.session.run(names, {self.graph.input: x})
        return tuple(np.asarray(o, dtype=np.float32) for o in outs)

    def classify(self, batch, k: int) -> TopK:
        """uint8 crops -> softmax top-k (numpy), not softmaxed twice when the graph already
        outputs probabilities; the extra outputs by name."""
        logits, *extras = self.forward_all(self.to_input(batch))
        top = top_k_array(logits, k, self.graph.probabilities)
        if extras:
            top = TopK(
                top.scores,
                top.indices,
                top.logits,
                dict(zip(self.extra_outputs, extras, strict=True)),
            )
        return top


def first_line(e: BaseException) -> str:
    """The first line of an error message (at most 200 characters), or its type."""
    text = str(e).strip().splitlines()
    return (text[0] if text else type(e).__name__)[:200]
