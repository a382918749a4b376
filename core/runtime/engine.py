"""The batch step a plan asks for: torch's :class:`~core.runtime.step.DeviceStep`, or ONNX
Runtime's :class:`~core.runtime.onnx_engine.OrtStep` (fp32 or int8). Inference and feature
extraction both get their step here, so an engine serves both the same way.

When ONNX Runtime cannot run the network (it does not export, ORT refuses the graph, int8
quantisation fails) the step is torch's, and its plan says why (``plan.engine_note``): the run
goes on, and its summary tells the user.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import torch
from torch import nn

from ..errors import EngineError
from ..models.archs import TransformSpec
from ..models.loaded import weights_hash
from .onnx_engine import OrtStep, engine_cache, ensure_exported, ort_session
from .options import INT8
from .plan import RunPlan
from .step import DeviceStep, prepare_model

if TYPE_CHECKING:
    from .quantize import CalibrationSet

log = logging.getLogger(__name__)

Step = DeviceStep | OrtStep


@dataclass(slots=True)
class EngineModel:
    """A network as the engines need it: the module (CPU, float32) to export or run, its
    architecture, what it outputs ("logits" or "features"), the hash of its weights (computed
    on demand when empty) and, for torch, a faster equivalent copy (conv+BN fused) if any."""

    module: nn.Module
    arch: str
    output: str = "logits"
    weights: str = ""
    for_torch: Callable[[], nn.Module] | None = None


def make_step(
    net: EngineModel,
    plan: RunPlan,
    transform: TransformSpec,
    *,
    calibration: Callable[[], CalibrationSet] | None = None,
    on_stage: Callable[[str], None] | None = None,
) -> Step:
    """The step that runs ``net`` as ``plan`` says. ONNX Runtime exports the network the first
    time these weights are seen (``on_stage`` is told, it takes seconds) and int8 calibrates on
    ``calibration()`` (a :class:`~core.runtime.quantize.CalibrationSet`) the first time. The
    step's ``plan`` is the one that really runs (torch, with the reason, after a fallback)."""
    if plan.engine == "onnxruntime":
        try:
            return _ort_step(net, plan, transform, calibration, on_stage)
        except EngineError as e:
            what = "int8 and ONNX Runtime" if plan.precision == INT8 else "ONNX Runtime"
            note = f"torch fp32: {what} not used for {net.arch}: {e}"
            log.warning("%s", note)
            plan = replace(plan, engine="torch", engine_note=note,
                           precision="fp32" if plan.precision == INT8 else plan.precision)  # fmt: skip
    model = net.for_torch() if net.for_torch is not None else net.module
    return DeviceStep(prepare_model(model, plan), plan, transform, plan.engine_note)


def _ort_step(
    net: EngineModel,
    plan: RunPlan,
    transform: TransformSpec,
    calibration: Callable[[], CalibrationSet] | None,
    on_stage: Callable[[str], None] | None,
) -> OrtStep:
    crop = transform.crop
    cached = engine_cache(net.arch, net.weights or weights_hash(net.module), net.output, crop)
    path = ensure_exported(net.module, cached, crop, on_stage)
    note = plan.engine_note
    if plan.precision == INT8:
        from .quantize import quantize_int8

        if calibration is None and not cached.int8.is_file():
            raise EngineError("int8 needs images to calibrate on (give a folder to classify)")
        path, note = quantize_int8(cached, transform, calibration, on_stage)
    # The threads torch would give each forward stream (torch's own count with one stream), so
    # ONNX Runtime shares the cores the way torch would.
    session = ort_session(path, plan.threads_per_stream or torch.get_num_threads())
    return OrtStep(session, replace(plan, engine_note=note), transform, note)
