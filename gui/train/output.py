"""What the Train tab does with a trained model: save it, hand it to the Classify tab, export
it for other tools.

A save is checked before any work (core.fileio.check_output_file, the command line's check:
a bad name is said at once, nothing is written and the model stays, ready to save elsewhere)
and written off the GUI thread with core.fileio.write_with_fallback: a model that cannot be
written where asked after all (the folder vanished, the disk filled up) goes to the app's
models folder, and the line says exactly where. Work the person paid for is never lost."""

from __future__ import annotations

import html
import time
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtWidgets import QFileDialog

from ...core.errors import PigeonholeError
from ...core.fileio import SavedOutput, check_output_file, models_dir
from ...core.models.files import SAVE_SUFFIXES, file_filter
from ...core.training.records import TrainResult
from ..widgets.model_export import ModelExporter
from ..widgets.workers import WorkerSlot
from .progress import error_html
from .results import ResultsPanel

if TYPE_CHECKING:
    from ...core.models.loaded import LoadedModel


def save_task(result: TrainResult, path: Path, *, should_stop=None, progress=None) -> SavedOutput:
    """Worker body: write the checkpoint (atomically) where asked, else in the models folder.
    Not cancellable: a save in progress always completes."""
    from ...core.fileio import write_with_fallback

    return write_with_fallback(path, result.save, [models_dir])


def trained_model(result: TrainResult) -> LoadedModel:
    """The trained network as a loaded model (weights, class names, preprocessing), to export."""
    from ...core.models.loaded import LoadedModel  # (torch: a trained model has it loaded)

    source = str(result.saved_to) if result.saved_to else f"trained {result.arch}"
    return LoadedModel(
        model=result.model,
        arch=result.arch,
        class_names=list(result.class_names),
        transform=result.transform,
        source=source,
    )


class TrainOutput(QObject):
    """Save, Use in Classify and Export for the Train tab's result (``result()`` gives it)."""

    saved = Signal(object)  # the checkpoint's Path once written, or None when saving failed
    use_in_classify = Signal(str)  # the path of the saved checkpoint
    busy_changed = Signal()

    def __init__(self, host, results: ResultsPanel, status, result, default_name):
        super().__init__(host)
        self.host, self.results, self.status = host, results, status
        self.result, self.default_name = result, default_name  # callables
        self.saving = WorkerSlot(self, on_finished=self._on_saved, on_failed=self._on_failed)
        self.exporter = ModelExporter(host)
        self.exporter.started.connect(self.status.setText)
        self.exporter.done.connect(self._on_exported)
        self.exporter.failed.connect(lambda m: self._say(error_html(m)))
        self._use_after_save = False
        self._saving_to: Path | None = None
        results.save_button.clicked.connect(self.ask_and_save)
        results.use_button.clicked.connect(self.use_in_classify_now)
        results.export_button.clicked.connect(lambda: self.export())

    @property
    def busy(self) -> bool:
        return self.saving.busy or self.exporter.busy

    def _say(self, text: str) -> None:
        self.status.setText(text)
        self.busy_changed.emit()

    # -- saving ------------------------------------------------------------------------------
    def default_save_path(self) -> Path:
        folder = QSettings().value("train/save_dir", "", type=str) or str(Path.home())
        return Path(folder) / f"{self.default_name()}.pth"

    def ask_and_save(self) -> None:
        if self.result() is None:
            return
        path, _ = QFileDialog.getSaveFileName(
            self.host,
            "Save checkpoint",
            str(self.default_save_path()),
            file_filter(SAVE_SUFFIXES, "Checkpoints"),
        )
        if path:
            self.save(path)

    def save(self, path: str | Path, then_use: bool = False) -> Path | None:
        """Save the trained network to ``path`` (.pth added to a name without a suffix), off
        the GUI thread; the path it goes to, or None when nothing started (no result, a save
        going, or a name that cannot be written: said in the line, nothing written)."""
        result = self.result()
        if result is None or self.saving.busy:
            return None
        path = Path(path)
        if not path.suffix:
            path = path.with_suffix(".pth")
        try:
            path = check_output_file(path, "Not saved", SAVE_SUFFIXES)
        except PigeonholeError as e:
            self._say(error_html(f"{e} The trained model is kept; save it elsewhere."))
            return None
        self._saving_to, self._use_after_save = path, then_use
        self.saving.start(save_task, result, path)
        self._say(html.escape(f"Saving {path.name}…"))
        return path

    def _on_saved(self, saved: SavedOutput) -> None:
        path = saved.path
        if saved.fell_back:
            self._say(
                error_html(
                    f"Could not save to {saved.wanted} ({saved.problem}); "
                    f"the model was saved to {path} instead."
                )
            )
        else:
            QSettings().setValue("train/save_dir", str(path.parent))
            self._say(html.escape(f"Saved to {path}"))
        self.results.set_saved(path)
        if self._use_after_save:
            self.use_in_classify.emit(str(path))
        self.saved.emit(path)

    def _on_failed(self, message: str) -> None:
        self._say(error_html(f"Could not save {self._saving_to}: {message}"))
        self.saved.emit(None)

    def use_in_classify_now(self) -> None:
        """Hand the checkpoint's path to Classify, saving it first (to the app's models folder)
        if it is not saved yet."""
        result = self.result()
        if result is None:
            return
        if result.saved_to is not None:
            self.use_in_classify.emit(str(result.saved_to))
            return
        stamp = time.strftime("%Y%m%d-%H%M%S")
        self.save(models_dir() / f"{self.default_name()}-{stamp}.pth", then_use=True)

    # -- export ------------------------------------------------------------------------------
    def export(self, path: str | None = None) -> bool:
        """Export the trained network (ONNX or TorchScript) to ``path``, else where asked."""
        result = self.result()
        if result is None:
            return False
        started = self.exporter.export(trained_model(result), path)
        self.busy_changed.emit()
        return started

    def _on_exported(self, report) -> None:
        self._say(html.escape(f"Exported: {report.line()}."))

    def shutdown(self) -> None:
        self.saving.shutdown()
        self.exporter.shutdown()
