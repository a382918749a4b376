"""The batch step of an ONNX model (an ``.onnx`` file, or a checkpoint's cached export): an
ONNX Runtime session on its graph, fp32 or int8, without torch. int8 is quantised once on the
person's images, as for a torch checkpoint (core.runtime.quantize), and kept in the cache: a
cached export's folder, or ``cache_dir()/onnx/file-<hash>`` for a model file."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from ..errors import EngineError
from ..fileio import cache_dir
from ..models.loaded import OnnxNetwork
from ..models.transforms import TransformSpec
from .onnx_engine import ExportedModel, OrtGraph, OrtStep, ort_session
from .options import INT8
from .plan import RunPlan, host_threads
from .quantize import CalibrationSet, quantize_int8


def graph_of(net: OnnxNetwork) -> OrtGraph:
    """How the network's graph is fed and read."""
    return OrtGraph(net.input, net.output, net.batch, net.channels_last, net.probabilities)


def onnx_model_step(
    net: OnnxNetwork,
    plan: RunPlan,
    transform: TransformSpec,
    *,
    calibration: Callable[[], CalibrationSet] | None = None,
    on_stage: Callable[[str], None] | None = None,
) -> OrtStep:
    """The step that runs ``net`` as ``plan`` says (ONNX Runtime, fp32 or int8). Raises
    :class:`EngineError` (there is no other engine to fall back on) when it cannot run."""
    graph = graph_of(net)
    path, note = net.path, ""
    if plan.precision == INT8:
        cached = int8_folder(net)
        if calibration is None and not cached.int8.is_file():
            raise EngineError("int8 needs images to calibrate on (give a folder to classify)")
        path, note = quantize_int8(cached, transform, calibration, on_stage, graph)
    session = ort_session(path, plan.threads_per_stream or host_threads())
    return OrtStep(session, replace(plan, engine_note=note), transform, note, graph)


def int8_folder(net: OnnxNetwork) -> ExportedModel:
    """Where the network's int8 version is (or goes): beside a cached export's fp32 graph, or
    in the cache by the model file's hash."""
    if net.export_folder is not None:
        return ExportedModel(net.export_folder)
    return ExportedModel(cache_dir() / "onnx" / f"file-{net.weights[:24]}", source=net.path)
