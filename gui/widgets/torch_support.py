"""PyTorch in the window: whether this install has it, and what only it can tell (torchvision's
networks, the GPUs, which ImageNet weights are downloaded), read off the GUI thread.

The window opens without importing torch: torch + torchvision take seconds to import, and a
person classifying with an ONNX model never needs them. Once the window is shown, the Model
panel and the Train tab ask a :class:`TorchFactsLoader` for these facts; where torch is
installed a worker imports it (the panel says "Loading PyTorch…" meanwhile), where it is not
(the lite install) the choices that need it say so plainly. Where torch is imported already
(a test, a second window) the facts are read at once."""

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
AUTO_DEVICE, CPU_DEVICE = ("auto", "Automatic"), ("cpu", "CPU")

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


@dataclass(frozen=True, slots=True)
class TorchFacts:
    """What the window's choices need that only torch can tell. ``missing`` is why torch
    cannot be used here (None when it can); then only the CPU is listed."""

    archs: tuple  # core.models.archs.ArchSpec records in the picker's order; () without them
    devices: tuple[tuple[str, str], ...]  # (spec, label): Automatic, the CPU, each GPU
    auto_device: str  # the kind of device "auto" runs on: "cpu", "cuda" or "mps"
    missing: str | None = None

    @property
    def available(self) -> bool:
        return self.missing is None


def _archs() -> tuple:
    """torchvision's networks, from the registry (which needs torchvision where it is built
    from it; none without)."""
    try:
        from ...core.models.archs import list_archs

        return tuple(list_archs())
    except ImportError as e:
        log.info("No architecture registry without PyTorch: %s", e)
        return ()


def read_torch_facts(*, should_stop=None, progress=None) -> TorchFacts:
    """Worker body: import torch where it is installed, then read the facts."""
    missing = import_torch()
    archs = _archs()
    if missing is not None:
        return TorchFacts(archs, (AUTO_DEVICE, CPU_DEVICE), "cpu", missing)
    from ...core.devices import list_devices, resolve_device

    devices = tuple((d.spec, d.label) for d in list_devices())
    return TorchFacts(archs, devices, resolve_device("auto").type)


class TorchFactsLoader(QObject):
    """The facts for one owner (the Model panel, the Train tab): ``facts`` once known (at
    once where torch is imported already or not installed at all), else after :meth:`load`,
    announced by ``ready``."""

    ready = Signal(object)  # TorchFacts

    def __init__(self, parent: QObject):
        super().__init__(parent)
        self.facts: TorchFacts | None = None
        self._slot = WorkerSlot(self, on_finished=self._on_read, on_failed=self._on_failed)
        if "torch" in sys.modules or not torch_installed():
            self.facts = read_torch_facts()  # nothing to wait for

    @property
    def loading(self) -> bool:
        """torch is being imported (the owner says "Loading PyTorch…")."""
        return self.facts is None

    @property
    def missing(self) -> str | None:
        """Why torch cannot be used here, once known (None while loading or when it can)."""
        return self.facts.missing if self.facts is not None else None

    def load(self) -> None:
        """Import torch on a worker and read the facts (once; nothing when they are known)."""
        if self.facts is None and not self._slot.busy:
            self._slot.start(read_torch_facts)

    def imagenet_cached(self, arch: str) -> bool:
        """Whether ``arch``'s ImageNet weights are downloaded (asked again each time once
        torch is loaded: a load may have just downloaded them)."""
        if self.facts is None or not self.facts.available:
            return False
        from ...core.models.checkpoints import imagenet_weights_cached  # (imported already)

        return imagenet_weights_cached(arch)

    def shutdown(self) -> None:
        self._slot.shutdown()

    def _on_read(self, facts: TorchFacts) -> None:
        self.facts = facts
        # What torch made while importing lives as long as the app: out of the collector's
        # reach, as gui.app does for what start-up made (full collections walked it all).
        gc.freeze()
        self.ready.emit(facts)

    def _on_failed(self, message: str) -> None:
        log.warning("PyTorch could not be loaded: %s", message)
        self._on_read(TorchFacts((), (AUTO_DEVICE, CPU_DEVICE), "cpu", message))
