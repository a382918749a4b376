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
from ..models.loaded import LoadedModel, weights_hash
from ..models.onnx_models import export_metadata
from .fusion import fuse_for_inference
from .kept import Keep
from .loading import remember_export
from .onnx_engine import OrtStep, ort_session
from .onnx_export import engine_cache, ensure_exported
from .options import INT8
from .plan import RunPlan, host_threads
from .step import DeviceStep, prepare_model

if TYPE_CHECKING:
    from .quantize import CalibrationSet

log = logging.getLogger(__name__)

Step = DeviceStep | OrtStep


@dataclass(slots=True)
class EngineModel:
    """A network as the engines need it: the module (CPU, float32) to export or run, its
    architecture, what it outputs ("logits" or "features"), the hash of its weights (computed
    on demand when empty), for torch a faster equivalent copy (conv+BN fused) if any, and what
    its ONNX export carries in its metadata (class names, preprocessing...)."""

    module: nn.Module
    arch: str
    output: str = "logits"
    weights: str = ""
    for_torch: Callable[[], nn.Module] | None = None
    metadata: dict[str, str] | None = None


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
    path = ensure_exported(net.module, cached, crop, on_stage, net.metadata)
    note = plan.engine_note
    if plan.precision == INT8:
        from .quantize import quantize_int8

        if calibration is None and not cached.int8.is_file():
            raise EngineError("int8 needs images to calibrate on (give a folder to classify)")
        path, note = quantize_int8(cached, transform, calibration, on_stage)
    # The threads torch would give each forward stream (torch's own count with one stream), so
    # ONNX Runtime shares the cores the way torch would.
    session = ort_session(path, plan.threads_per_stream or host_threads())
    step = OrtStep(session, replace(plan, engine_note=note), transform, note)
    step.exported = cached
    return step


def torch_model_step(
    loaded: LoadedModel,
    plan: RunPlan,
    *,
    threads: int = 0,
    fuse: bool = True,
    calibration: Callable[[], CalibrationSet] | None = None,
    on_stage: Callable[[str], None] | None = None,
    keep: Keep | None = None,
) -> Step:
    """The step of a loaded torch model (torch, or its export on ONNX Runtime), with
    ``threads`` (the run's torch threads, as the window asks) set first on this thread; its
    conv+BN fused copy for torch when ``fuse``. An export the run makes or finds is noted for
    the file's next run (core.runtime.loading), so that one needs no torch. ``keep``: the
    network also outputs the maps and embedding asked for (core.runtime.explained), on every
    engine (its ONNX export has them as extra outputs)."""
    if threads:
        torch.set_num_threads(threads)
    module, output = loaded.model, "logits"
    wrap = None
    if keep:
        from .explained import Explained

        def wrap(m: nn.Module) -> nn.Module:
            # Both outputs whatever this run keeps (they cost little): one export serves
            # every later run, whichever it keeps.
            return Explained(m, loaded.arch)

        module = wrap(loaded.model)
        output = "+".join(["logits", *module.extra_outputs])
    for_torch = None
    if fuse or wrap is not None:

        def for_torch() -> nn.Module:
            m = fuse_for_inference(loaded) if fuse else loaded.model
            return wrap(m) if wrap is not None else m

    net = EngineModel(
        module,
        loaded.arch,
        output=output,
        weights=loaded.identity().weights,  # hashed once per LoadedModel
        for_torch=for_torch,
        metadata=export_metadata(loaded) if loaded.file_facts is not None else None,
    )
    step = make_step(net, plan, loaded.transform, calibration=calibration, on_stage=on_stage)
    if isinstance(step, OrtStep) and step.exported is not None:
        remember_export(loaded, step.exported.folder, loaded.transform.crop, step.extra_outputs)
    return step
