"""ONNX Runtime, the CPU engine: a network is exported to ONNX once, cached by a hash of its
weights in the user's cache folder (so the same checkpoint is never exported twice), and run by
ONNX Runtime's CPU provider, which fuses the graph and picks CPU kernels itself.

:func:`export_onnx` is public: `pigeonhole export --format onnx` and the engine both use it.
Anything here that fails raises :class:`EngineError`; core.runtime.step then runs torch and
says why.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ..data.images import normalize_batch
from ..errors import EngineError
from ..fileio import cache_dir, write_bytes_atomic, write_text_atomic
from ..models.archs import TransformSpec
from .plan import RunPlan
from .step import TopK, top_k

log = logging.getLogger(__name__)

ONNX_OPSET = 17
INPUT, OUTPUT = "input", "output"
_EXPORT_FORMAT = 1  # part of the cache key: bump it when the export changes
_MAX_PROTO_BYTES = 2**31 - 1  # one ONNX file (no external data) holds at most 2 GB


@contextlib.contextmanager
def _no_onnx_package():
    """While exporting: torch's TorchScript exporter imports the ``onnx`` package after every
    export only to add custom onnxscript functions to the graph (we register none, so it adds
    nothing). Importing ``onnx`` loads ml_dtypes, whose C start-up holds the GIL for 0.4-1.4 s:
    every other thread waits meanwhile, the window's too (its event loop froze on the first
    run of each model). The exported bytes go through as they are instead. With a torch whose
    exporter is laid out otherwise, nothing is changed."""
    try:
        from torch.onnx._internal.torchscript_exporter import onnx_proto_utils as proto
    except ImportError:
        proto = None
    original = getattr(proto, "_add_onnxscript_fn", None)
    if original is None:
        yield
        return
    proto._add_onnxscript_fn = lambda model_bytes, custom_opsets: model_bytes
    try:
        yield
    finally:
        proto._add_onnxscript_fn = original


def export_onnx(
    model: nn.Module,
    path: str | Path,
    crop: int = 224,
    *,
    opset: int = ONNX_OPSET,
    fold: bool = True,
) -> Path:
    """Write ``model`` (CPU, float32) as an ONNX graph with a free batch size: input ``input``,
    float32 (N, 3, crop, crop), normalised; output ``output``. The file is written atomically.
    ``fold``: fold batch norms and constants into the graph here (a tidier file for other
    runtimes); ONNX Runtime folds them itself when it loads the graph, off the GIL, while
    torch's folding passes hold it for 0.1-0.9 s (the engine's export leaves it to ORT).
    Raises :class:`EngineError` with the reason when the network does not export."""
    path = Path(path)
    params = list(model.parameters())
    if any(p.device.type != "cpu" or p.dtype != torch.float32 for p in params):
        raise EngineError("ONNX export needs the model on the CPU in float32.")
    if sum(p.numel() for p in params) * 4 > _MAX_PROTO_BYTES:
        raise EngineError("the network is over 2 GB, more than one ONNX file holds")
    was_training = model.training
    model.eval()
    buffer = io.BytesIO()
    example = torch.zeros(1, 3, crop, crop)
    # nn.MultiheadAttention's fused inference kernel (ViT, Swin...) has no ONNX form: export
    # the plain attention ops it stands for (ONNX Runtime fuses them again).
    fastpath = torch.backends.mha.get_fastpath_enabled()
    try:
        torch.backends.mha.set_fastpath_enabled(False)
        with warnings.catch_warnings(), torch.no_grad(), _no_onnx_package():
            warnings.simplefilter("ignore")  # tracer warnings about Python control flow
            torch.onnx.export(
                model,
                (example,),
                buffer,
                dynamo=False,  # the TorchScript exporter: no onnxscript needed, seconds not minutes
                opset_version=opset,
                input_names=[INPUT],
                output_names=[OUTPUT],
                dynamic_axes={INPUT: {0: "batch"}, OUTPUT: {0: "batch"}},
                do_constant_folding=fold,
            )
    except Exception as e:  # any exporter failure means "this network does not export"
        log.debug("ONNX export failed", exc_info=True)
        raise EngineError(f"it does not export to ONNX ({_first_line(e)})") from e
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)
        model.train(was_training)
    write_bytes_atomic(path, buffer.getvalue())
    return path


@dataclass(frozen=True, slots=True)
class ExportedModel:
    """One network's folder in the engine cache: ``fp32.onnx``, ``int8.onnx`` once quantised,
    and ``manifest.json`` (what it is, how long the export took, int8's measured agreement)."""

    folder: Path

    @property
    def fp32(self) -> Path:
        return self.folder / "fp32.onnx"

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


def engine_cache(arch: str, weights: str, output: str, crop: int) -> ExportedModel:
    """Where the export of these weights lives: the key covers the weights' hash, what the
    graph outputs ("logits" or "features"), the input size and the exporter's version."""
    desc = f"{arch}|{weights}|{output}|{crop}|{ONNX_OPSET}|{_EXPORT_FORMAT}|{torch.__version__}"
    key = hashlib.sha1(desc.encode()).hexdigest()[:24]
    return ExportedModel(cache_dir() / "onnx" / f"{arch}-{output}-{key}")


def ensure_exported(
    model: nn.Module,
    cached: ExportedModel,
    crop: int,
    on_stage: Callable[[str], None] | None = None,
) -> Path:
    """The fp32 ONNX file of ``model``, exported now only if the cache does not have it."""
    if cached.fp32.is_file():
        return cached.fp32
    if on_stage is not None:
        on_stage("Exporting the network to ONNX (once for these weights)")
    t0 = time.perf_counter()
    export_onnx(model, cached.fp32, crop, fold=False)  # (ONNX Runtime folds, off the GIL)
    seconds = time.perf_counter() - t0
    cached.update_manifest(export_s=round(seconds, 2), torch=torch.__version__)
    log.info("exported %s in %.1f s", cached.fp32, seconds)
    return cached.fp32


def ort_session(path: Path, threads: int):
    """An ONNX Runtime CPU session on ``threads`` intra-op threads (0: ORT's default, one per
    core). Sessions are thread-safe: the forward threads share one. Raises
    :class:`EngineError` when ONNX Runtime refuses the graph."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads > 0:
        options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # errors only: its warnings are not the user's to act on
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as e:  # ORT raises its own exception types for unsupported graphs
        raise EngineError(f"ONNX Runtime cannot run it ({_first_line(e)})") from e


class OrtStep:
    """The batch step (see :class:`core.runtime.step.DeviceStep`: same methods) on ONNX Runtime:
    uint8 crops are normalised exactly as for torch, then run by the session."""

    engine = "onnxruntime"

    def __init__(self, session, plan: RunPlan, transform: TransformSpec, note: str = ""):
        self.session = session
        self.plan = plan
        self.transform = transform
        self.note = note  # e.g. int8's measured agreement with fp32
        self.max_batch = plan.batch_size

    def to_input(self, batch: torch.Tensor):
        """uint8 (N, 3, H, W) on the CPU -> the normalised float32 array the graph takes."""
        return normalize_batch(batch, self.transform).numpy()

    def forward(self, x) -> torch.Tensor:
        """The graph's output (float32, CPU) for an input array (or tensor)."""
        if isinstance(x, torch.Tensor):
            x = x.numpy()
        return torch.from_numpy(self.session.run([OUTPUT], {INPUT: x})[0])

    def classify(self, batch: torch.Tensor, k: int) -> TopK:
        return top_k(self.forward(self.to_input(batch)), k)


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return (text[0] if text else type(e).__name__)[:200]
