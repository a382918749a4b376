"""Device and precision choice, names and capability checks.

Importing it costs nothing: torch is imported by the functions that ask it (resolving "auto" or
a GPU, a GPU's name, waiting for one). A run that never needs torch (an ONNX model on ONNX
Runtime) runs on :data:`HOST_CPU`, the CPU named without torch.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import platform
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import PigeonholeError
from .runtime.options import INT8, RUN_PRECISIONS, specs

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True, slots=True)
class HostCpu:
    """The CPU, named without torch: the device of a run that never imports torch. It has what
    a run reads of a ``torch.device``: ``type``, ``index`` and its name as a string."""

    type: str = "cpu"
    index: None = None

    def __str__(self) -> str:
        return "cpu"


HOST_CPU = HostCpu()


@dataclass(frozen=True, slots=True)
class DeviceChoice:
    spec: str  # what to pass to resolve_device: "auto", "cpu", "cuda:0", "mps"
    label: str  # what a person reads: "NVIDIA GeForce RTX 4070 (cuda:0)"


def resolve_device(spec: str | torch.device | None = "auto") -> torch.device:
    """`auto` picks CUDA, then Apple MPS, then CPU; `cuda:N` must exist."""
    import torch

    if isinstance(spec, torch.device):
        return spec
    spec = (spec or "auto").strip().lower()
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", torch.cuda.current_device())
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if spec == "cpu":
        return torch.device("cpu")
    if spec.startswith("cuda"):
        if not torch.cuda.is_available():
            raise PigeonholeError(f"Device '{spec}' was asked for, but no CUDA GPU is available.")
        dev = torch.device(spec)
        index = dev.index if dev.index is not None else torch.cuda.current_device()
        if index >= torch.cuda.device_count():
            raise PigeonholeError(
                f"Device '{spec}' does not exist: this machine has "
                f"{torch.cuda.device_count()} CUDA GPU(s)."
            )
        return torch.device("cuda", index)
    if spec == "mps":
        if not _mps_available():
            raise PigeonholeError("Device 'mps' was asked for, but Apple MPS is not available.")
        return torch.device("mps")
    raise PigeonholeError(f"Unknown device '{spec}': use auto, cpu, cuda, cuda:N or mps.")


def _mps_available() -> bool:
    import torch

    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


def device_name(device: torch.device | HostCpu) -> str:
    """The hardware's name: GPU model, 'Apple GPU (MPS)', or the CPU's model name."""
    if device.type == "cuda":
        import torch

        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return "Apple GPU (MPS)"
    return cpu_name()


def describe_device(device: torch.device | HostCpu) -> str:
    return f"{device_name(device)} ({device})"


@functools.cache
def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "CPU"


def list_devices() -> list[DeviceChoice]:
    """Choices for a device picker: auto, CPU, each CUDA GPU by name, MPS."""
    import torch

    choices = [DeviceChoice("auto", "Automatic"), DeviceChoice("cpu", f"CPU ({cpu_name()})")]
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            choices.append(DeviceChoice(f"cuda:{i}", f"{torch.cuda.get_device_name(i)} (cuda:{i})"))
    if _mps_available():
        choices.append(DeviceChoice("mps", "Apple GPU (MPS)"))
    return choices


@functools.cache
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags (/proc/cpuinfo; empty where there is none)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def has_amx() -> bool:
    """True when the CPU has AMX tiles (bf16 matmuls several times faster than fp32)."""
    return "amx_bf16" in cpu_flags()


def resolve_precision(precision: str, device: torch.device | HostCpu) -> str:
    """`auto` is fp16 on CUDA, fp32 elsewhere. Returns fp32, fp16, bf16 or int8 (CPU only)."""
    precision = (precision or "auto").lower()
    if precision not in specs(RUN_PRECISIONS):
        names = ", ".join(specs(RUN_PRECISIONS))
        raise PigeonholeError(f"Unknown precision '{precision}': use {names}.")
    if precision == INT8 and device.type != "cpu":
        raise PigeonholeError("int8 runs on the CPU only: use --device cpu, or fp16 on a GPU.")
    if precision == "auto":
        return "fp16" if device.type == "cuda" else "fp32"
    if precision == "fp16" and device.type == "cpu":
        raise PigeonholeError("fp16 is not supported on the CPU: use bf16 or fp32.")
    return precision


def synchronize(device: torch.device | HostCpu) -> None:
    """Wait for the work this thread queued on the GPU (its current CUDA stream), so wall-clock
    timing is honest without waiting for other threads' batches."""
    if device.type == "cpu":
        return
    import torch

    if device.type == "cuda":
        torch.cuda.current_stream(device).synchronize()
    elif device.type == "mps":
        torch.mps.synchronize()


def gpu_likely() -> bool:
    """Whether "auto" may well pick a GPU here, asked without importing torch: torch is
    installed and an NVIDIA driver is loaded (Linux: /proc/driver/nvidia; Windows: nvcuda.dll)
    or this is an Apple silicon Mac (MPS). When torch is already imported, it answers."""
    torch = sys.modules.get("torch")
    if torch is not None and hasattr(torch, "cuda"):
        return torch.cuda.is_available() or _mps_available()
    if importlib.util.find_spec("torch") is None:
        return False
    if sys.platform == "darwin":
        return platform.machine() == "arm64"
    if sys.platform == "win32":
        root = os.environ.get("SYSTEMROOT", r"C:\Windows")
        return os.path.exists(os.path.join(root, "System32", "nvcuda.dll"))
    return os.path.exists("/proc/driver/nvidia/version")
