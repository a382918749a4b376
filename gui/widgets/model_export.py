"""Export a model for other tools: ONNX or TorchScript with its class names and preprocessing
inside, checked against PyTorch before it is kept (core.runtime.network_export, what `pigeonhole export`
runs). The file name is checked before any work (core.fileio.check_output_file, the command
line's check), and the export runs on a worker thread. The Classify tab's model menu and the
Train tab's Export… button use it."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtWidgets import QFileDialog, QWidget

from .workers import WorkerSlot

log = logging.getLogger(__name__)

FILTERS = {"onnx": "ONNX (*.onnx)", "torchscript": "TorchScript (*.pt)"}
SETTINGS_KEY = "export/model_dir"


def export_task(loaded, fmt: str, path: Path, *, should_stop=None, progress=None):
    """Worker body: write and check the export (not cancellable: a few seconds). Returns the
    core ExportReport."""
    from ...core.runtime.network_export import export_model

    return export_model(loaded, fmt, path)


def export_target(path: str, chosen_filter: str = "") -> tuple[str, Path]:
    """The format and the checked file for the name the person gave: the format its suffix
    names, else the one of the filter chosen in the dialog (its suffix is added to a name
    without one). Raises core's OutputPathError with a message for the person."""
    from ...core.fileio import check_output_file
    from ...core.runtime.network_export import FORMATS

    suffix = Path(path).suffix.lower()
    fmt = next((f for f, s in FORMATS.items() if s == suffix), None)
    if fmt is None:
        fmt = "torchscript" if chosen_filter == FILTERS["torchscript"] else "onnx"
        if not suffix:
            path += FORMATS[fmt]
    return fmt, check_output_file(path, "Not exported", (FORMATS[fmt],))


def default_export_path(loaded) -> str:
    """Beside the checkpoint (its name, .onnx), else in the folder last exported to."""
    source = Path(loaded.source)
    if source.is_file():
        return str(source.with_suffix(".onnx"))
    folder = QSettings().value(SETTINGS_KEY, "", type=str) or str(Path.home())
    return str(Path(folder) / f"{loaded.arch}.onnx")


def ask_export_path(parent: QWidget | None, start: str) -> tuple[str, str]:
    """The file dialog: (path, the filter chosen); ("", "") when cancelled."""
    return QFileDialog.getSaveFileName(parent, "Export model", start, ";;".join(FILTERS.values()))


class ModelExporter(QObject):
    """One export at a time for one window part. ``started(text)``, then ``done(report)`` or
    ``failed(message)`` (a bad file name fails at once, before any work)."""

    started = Signal(str)
    done = Signal(object)  # core.runtime.network_export.ExportReport
    failed = Signal(str)

    def __init__(self, parent: QWidget):
        super().__init__(parent)
        self.window_part = parent
        # Where to export: the file dialog (tests replace it); returns (path, filter chosen).
        self.ask_path = lambda start: ask_export_path(self.window_part, start)
        self.exporting = WorkerSlot(self, on_finished=self._on_done, on_failed=self._on_failed)
        self._what = ""

    @property
    def busy(self) -> bool:
        return self.exporting.busy

    def export(self, loaded, path: str | None = None) -> bool:
        """Export ``loaded`` to ``path`` (asked for when None). False when nothing started:
        no model, an export already going, the dialog cancelled, or a name that cannot be
        written (said through ``failed``)."""
        if loaded is None or self.busy:
            if loaded is None:
                self.failed.emit("No model to export: load or train one first.")
            return False
        chosen = ""
        if path is None:
            path, chosen = self.ask_path(default_export_path(loaded))
            if not path:
                return False
        from ...core.errors import PigeonholeError

        try:
            fmt, target = export_target(str(path), chosen)
        except PigeonholeError as e:
            self.failed.emit(str(e))
            return False
        self._what = f"{loaded.arch} as {target.name}"
        self.exporting.start(export_task, loaded, fmt, target)
        self.started.emit(f"Exporting {self._what}…")
        return True

    def _on_done(self, report) -> None:
        QSettings().setValue(SETTINGS_KEY, str(report.path.parent))
        log.info("%s", report.line())
        self.done.emit(report)

    def _on_failed(self, message: str) -> None:
        self.failed.emit(f"Could not export {self._what}: {message}")

    def shutdown(self) -> None:
        """Wait for an export to end (window closing: it is a few seconds)."""
        self.exporting.shutdown()
