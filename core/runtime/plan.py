"""One plan per run: every choice that decides how a batch is made and where it runs, taken in
one place for inference and feature extraction alike (so the two can never disagree again).

Planning a run of an ONNX model (``onnx_model=True``) never imports torch: it runs on ONNX
Runtime on the CPU (:data:`~core.devices.HOST_CPU`), and a choice only torch can honour is an
error that says so."""

from __future__ import annotations

import importlib.util
import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..devices import HOST_CPU, HostCpu, gpu_likely, resolve_device, resolve_precision
from ..errors import PigeonholeError
from ..models.archs import get_arch
from .options import AUTO, INT8, RunOptions

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True, slots=True)
class RunPlan:
    """How one run goes. Made by :func:`plan_run`; tests may build one directly."""

    device: torch.device | HostCpu  # HOST_CPU: a run that never imports torch
    precision: str  # "fp32" | "fp16" | "bf16" | "int8" (ONNX Runtime on the CPU)
    batch_size: int
    decode_workers: int  # threads that read (and, on the CPU path, decode) images
    channels_last: bool  # the model and its input in channels_last memory format
    gpu_decode: bool  # JPEGs are decoded on the device (torchvision.io.decode_jpeg)
    forward_streams: int  # batches in the forward pass at once (threads)
    threads_per_stream: int  # torch intra-op threads of each forward thread (0 = leave as is)
    engine: str = "torch"  # "torch" | "onnxruntime" (CPU only)
    engine_note: str = ""  # why this engine, when it is not the one asked for or usual

    @property
    def model_dtype(self) -> torch.dtype:
        """The dtype the model's weights are cast to: half precision is explicit on GPUs; on
        the CPU, bf16 runs under autocast (so softmax and friends stay fp32)."""
        import torch

        if self.device.type == "cpu" or self.precision in ("fp32", INT8):
            return torch.float32
        return torch.float16 if self.precision == "fp16" else torch.bfloat16

    @property
    def autocast(self) -> bool:
        return self.device.type == "cpu" and self.precision == "bf16"

    def describe(self) -> str:
        decode = "GPU JPEG decoding" if self.gpu_decode else f"{self.decode_workers} decode threads"
        return (
            f"{self.device}, {self.engine}, {self.precision}, batch {self.batch_size}, {decode}, "
            f"{self.forward_streams} forward stream{'s' if self.forward_streams != 1 else ''}"
        )


def default_batch_size(device: torch.device | HostCpu) -> int:
    """CPU: 16 (bigger batches gain nothing there and delay the first results). CUDA: 256
    (model-only ResNet-50 on an H100 gained ~20 % from 64 to 256), 64 on GPUs under 8 GB;
    the forward pass halves the batch on out-of-memory. MPS: 32."""
    if device.type == "cuda":
        import torch

        total = torch.cuda.get_device_properties(device).total_memory
        return 256 if total >= 8 * 1024**3 else 64
    return 32 if device.type == "mps" else 16


def default_decode_workers(device: torch.device | HostCpu) -> int:
    """On a CPU the forward pass needs the cores too: one decode thread per ~2 cores (measured:
    1 on 2 cores is fastest); a GPU leaves the CPU to reading and decoding."""
    cores = os.cpu_count() or 1
    if device.type == "cpu":
        return max(1, min(4, cores // 2))
    return max(2, min(8, cores - 1))


def forward_streams(
    device: torch.device | HostCpu, requested: int = 0, threads: int = 0
) -> tuple[int, int]:
    """(batches in the forward pass at once, torch threads each; 0 = leave torch's setting).

    On a CPU, two batches run side by side, each on half the cores, instead of one on all of
    them: the cores never wait for each other at the end of every layer, which matters most when
    decoding takes a core now and then (measured on 2 cores under load: 35 vs 20 images/s). On
    a GPU two batches overlap one's reading and decoding with the other's forward pass.
    ``threads``: the torch threads the run may use (0 = this thread's setting)."""
    threads = threads or host_threads()
    if device.type == "cpu":
        n = requested or (2 if threads >= 2 else 1)
        return n, (max(1, threads // n) if n > 1 else 0)
    return requested or (2 if device.type == "cuda" else 1), 0


def host_threads() -> int:
    """The threads a run may use when not told: torch's setting for this thread when torch is
    imported, else one per CPU this process may run on."""
    torch = sys.modules.get("torch")
    if torch is not None and hasattr(torch, "get_num_threads"):
        return torch.get_num_threads()
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def plan_run(arch: str, options: RunOptions | None = None, *, onnx_model: bool = False) -> RunPlan:
    """The plan for running ``arch`` as ``options`` ask (None: every choice automatic), for this
    machine. The one place a run is planned: the CLI, the Classify tab, feature extraction and
    the benchmarks all come here. ``onnx_model``: the network is an ONNX graph (no torch)."""
    options = options or RunOptions()
    if onnx_model:
        return _plan_onnx_run(options)
    dev = resolve_device(options.device)
    if options.decode == "gpu" and dev.type != "cuda":
        raise PigeonholeError(
            "Decoding on the GPU (--decode gpu) needs a CUDA device: choose one, or decode on "
            "the CPU (--decode cpu)."
        )
    n_streams, per_stream = forward_streams(dev, options.streams, options.threads)
    precision = resolve_precision(options.precision, dev)
    engine, note = choose_engine(arch, dev, precision, options.engine)
    return RunPlan(
        device=dev,
        precision=precision,
        batch_size=options.batch_size or default_batch_size(dev),
        decode_workers=options.workers or default_decode_workers(dev),
        channels_last=dev.type != "mps" and get_arch(arch).channels_last,
        gpu_decode=dev.type == "cuda" and options.decode in ("auto", "gpu"),
        forward_streams=n_streams,
        threads_per_stream=per_stream,
        engine=engine,
        engine_note=note,
    )


def _plan_onnx_run(options: RunOptions) -> RunPlan:
    """An ONNX model's plan: ONNX Runtime on the CPU, fp32 (or a cached int8), no torch."""
    if options.device not in (AUTO, "cpu"):
        raise PigeonholeError(
            f"An ONNX model runs on the CPU here (ONNX Runtime), not on '{options.device}': use "
            "--device cpu or auto, or a torch checkpoint (.pth, .safetensors) for the GPU."
        )
    if options.engine == "torch":
        raise PigeonholeError(
            "--engine torch needs a torch checkpoint (.pth, .pt, .safetensors...): this is an "
            "ONNX model, which runs on ONNX Runtime (--engine auto or onnxruntime)."
        )
    if options.precision not in (AUTO, "fp32", INT8):
        raise PigeonholeError(
            f"An ONNX model runs in fp32 (or int8) on ONNX Runtime, not {options.precision}."
        )
    if options.decode == "gpu":
        raise PigeonholeError("An ONNX model runs on the CPU: decode there (--decode cpu or auto).")
    missing = onnxruntime_missing()
    if missing:
        raise PigeonholeError(f"ONNX models need ONNX Runtime: {missing}.")
    n_streams, per_stream = forward_streams(HOST_CPU, options.streams, options.threads)
    return RunPlan(
        device=HOST_CPU,
        precision=INT8 if options.precision == INT8 else "fp32",
        batch_size=options.batch_size or default_batch_size(HOST_CPU),
        decode_workers=options.workers or default_decode_workers(HOST_CPU),
        channels_last=False,
        gpu_decode=False,
        forward_streams=n_streams,
        threads_per_stream=per_stream,
        engine="onnxruntime",
    )


def onnx_export_would_run(arch: str, options: RunOptions | None = None) -> bool:
    """Whether a run of ``arch``'s checkpoint as ``options`` ask would run its ONNX export on
    ONNX Runtime on the CPU, decided without importing torch: the CPU (asked for, or "auto"
    with no GPU likely here), the engine asked for or "auto" where the registry prefers ONNX
    Runtime, fp32 or int8, and ONNX Runtime installed. When in doubt: False (torch decides)."""
    options = options or RunOptions()
    if options.device not in (AUTO, "cpu") or options.decode == "gpu":
        return False
    if options.device == AUTO and gpu_likely():
        return False
    if options.precision not in (AUTO, "fp32", INT8) or onnxruntime_missing():
        return False
    if options.engine == "torch":
        return False
    try:
        spec = get_arch(arch)
    except PigeonholeError:
        return False
    return (
        options.engine == "onnxruntime"
        or options.precision == INT8
        or (spec.cpu_engine == "onnxruntime")
    )


def onnxruntime_missing() -> str | None:
    """Why ONNX Runtime cannot be used here (not installed), or None. Does not import it."""
    if importlib.util.find_spec("onnxruntime") is None:
        return "ONNX Runtime is not installed (pip install onnxruntime)"
    return None


def choose_engine(
    arch: str, device: torch.device | HostCpu, precision: str, asked: str
) -> tuple[str, str]:
    """(engine, why) for a run. GPUs keep torch. On the CPU, "auto" takes ONNX Runtime where it
    is installed and measured faster for the architecture's family (the registry record's
    ``cpu_engine``); int8 always runs there."""
    asked = (asked or "auto").lower()
    if device.type != "cpu":
        if asked == "onnxruntime" or precision == INT8:
            raise PigeonholeError("ONNX Runtime runs on the CPU here: add --device cpu.")
        return "torch", ""
    missing = onnxruntime_missing()
    if precision == INT8:
        if asked == "torch":
            raise PigeonholeError("int8 runs on ONNX Runtime: use --engine auto or onnxruntime.")
        if missing:
            raise PigeonholeError(f"int8 needs ONNX Runtime: {missing}.")
        return "onnxruntime", ""
    if asked == "torch":
        return "torch", ""
    if asked == "onnxruntime":
        if missing:
            raise PigeonholeError(f"--engine onnxruntime: {missing}.")
        return "onnxruntime", ""
    if missing:
        return "torch", missing
    spec = get_arch(arch)
    if spec.cpu_engine != "onnxruntime":
        return "torch", f"torch: {spec.cpu_engine_reason}"
    return "onnxruntime", ""
