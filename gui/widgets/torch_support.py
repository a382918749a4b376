"""PyTorch in the window: whether this install has it, and what only it can tell (the GPUs, and
that it imports at all), read off the GUI thread.

The window opens without importing torch: torch + torchvision take seconds to import, and a
person classifying with an ONNX model never needs them (the networks, the preprocessing presets
and whether ImageNet weights are downloaded are known without it). Torch is imported when
something needs it: a torch checkpoint or ImageNet weights loading (the load does it), the
Train tab shown, or, where a GPU is likely, the device list after the window shows. Meanwhile
the Model panel says "Loading PyTorch…"; in the lite install (no torch) the choices that need it
say so plainly. Where torch is imported already (a test, a model loaded with it) the facts are
read at once."""

from __future__ import annotations

import gc
import importlib.util
import logging
import sys
import threading
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal

from .workers import WorkerSlot

log = logging.getLogger(__name__)

LOADING = "Loading PyTorch…"
FULL_INSTALL = "the full install of Pigeonhole (with PyTorch)"
AUTO_DEVICE = ("auto", "Automatic")

_import_lock = threading.Lock()  # one thread imports torch at a time (never two in parallel)


def torch_installed() -> bool:
    """torch and torchvision are installed (found, not imported: finding costs nothing)."""
    return all(importlib.util.find_spec(name) is not None for name in ("torch", "torchvision"))


def needs_full_install(what: str) -> str:
    """The one sentence the lite install says where torch is needed: "<what> needs ..."."""
    return f"{what} needs {FULL_INSTALL}."


def import_torch() -> str | None:
    """Import torch, torchvision and the core modules that run on them (off the GUI thread:
    seconds). Returns None, or why torch cannot be used here (not installed, or broken)."""
    with _import_lock:
        try:
            import torch  # noqa: F401
            import torchvision  # noqa: F401

            from ...core import devices  # noqa: F401
            from ...core.models import checkpoints  # noqa: F401
            from ...core.runtime import inference  # noqa: F401
            from ...core.training import fine_tune  # noqa: F401
        except ImportError as e:
            log.info("PyTorch cannot be used: %s", e)
            return f"PyTorch could not be imported ({e})" if torch_installed() else "No PyTorch"
    return None


def cpu_devices() -> tuple[tuple[str, str], ...]:
    """The device choices known without torch: Automatic and the CPU, by name."""
    from ...core.devices import cpu_name

    return (AUTO_DEVICE, ("cpu", f"CPU ({cpu_name()})"))


@dataclass(frozen=True, slots=True)
class TorchFacts:
    """What the window's choices need that only torch can tell. ``missing`` is why torch
    cannot be used here (None when it can); then only the CPU is listed."""

    devices: tuple[tuple[str, str], ...]  # (spec, label): Automatic, the CPU, each GPU
    auto_device: str  # the kind of device "auto" runs on: "cpu", "cuda" or "mps"
    missing: str | None = None

    @property
    def available(self) -> bool:
        return self.missing is None


def read_torch_facts(*, should_stop=None, progress=None) -> TorchFacts:
    """Worker body: import torch where it is installed, then read the facts."""
    missing = import_torch()
    if missing is not None:
        return TorchFacts(cpu_devices(), "cpu", missing)
    from ...core.devices import list_devices, resolve_device

    devices = tuple((d.spec, d.label) for d in list_devices())
    return TorchFacts(devices, resolve_device("auto").type)


class TorchFactsLoader(QObject):
    """The facts for the window (the Model panel owns it, the Train tab shares it): ``facts``
    once known (at once where torch is imported already or not installed at all), else after
    :meth:`load`, announced by ``ready``."""

    ready = Signal(object)  # TorchFacts
    loading_started = Signal()  # a worker imports torch now (until ready)

    def __init__(self, parent: QObject):
        super().__init__(parent)
        self.facts: TorchFacts | None = None
        self._slot = WorkerSlot(self, on_finished=self._on_imported, on_failed=self._on_failed)
        self.read_if_imported()
        if self.facts is None and not torch_installed():
            self.facts = read_torch_facts()  # nothing to import: the lite install

    @property
    def loading(self) -> bool:
        """torch is being imported on a worker (the owner says "Loading PyTorch…")."""
        return self._slot.busy

    @property
    def missing(self) -> str | None:
        """Why torch cannot be used here, once known (None while unknown or when it can)."""
        return self.facts.missing if self.facts is not None else None

    def load(self) -> None:
        """Import torch on a worker and read the facts (once; nothing when they are known)."""
        if self.facts is None and not self._slot.busy:
            self._slot.start(read_torch_facts)
            self.loading_started.emit()

    def load_if_gpu_likely(self) -> None:
        """Load now where a GPU is likely (to list it); elsewhere torch waits until needed."""
        from ...core.devices import gpu_likely

        if gpu_likely():
            self.load()

    def read_if_imported(self) -> None:
        """torch was imported meanwhile (a model loaded with it): read the facts now."""
        if self.facts is None and "torch" in sys.modules and not self._slot.busy:
            self._on_read(read_torch_facts())

    def shutdown(self) -> None:
        self._slot.shutdown()

    def _on_imported(self, facts: TorchFacts) -> None:
        # What the worker's import made lives as long as the app: out of the collector's
        # reach, as gui.app does for what start-up made (full collections walked it all).
        gc.freeze()
        self._on_read(facts)

    def _on_read(self, facts: TorchFacts) -> None:
        self.facts = facts
        self.ready.emit(facts)

    def _on_failed(self, message: str) -> None:
        log.warning("PyTorch could not be loaded: %s", message)
        self._on_read(TorchFacts(cpu_devices(), "cpu", message))
