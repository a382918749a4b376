"""The Train tab: choose a folder of class folders, train a new final layer, look at the
results, save the checkpoint or use it in the Classify tab in one click.

The work runs in core.training.train_classifier on a TaskWorker thread; this module only turns
clicks into a TrainConfig and records (ExtractionProgress, EpochStats, TrainResult) into views.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from pigeonhole.core.datasets import DatasetPlan, plan_dataset
from pigeonhole.core.errors import PigeonholeError
from pigeonhole.core.features import ExtractionProgress
from pigeonhole.core.head import EpochStats
from pigeonhole.core.training import TrainResult, TrainStage

from .. import style_sheet
from ..widgets.workers import TaskWorker, start_worker, stop_and_wait
from .panels import DataPanel, NetworkPanel, OptionsPanel, train_task
from .plots import TrainingCurves
from .results import ResultsPanel

log = logging.getLogger(__name__)


class TrainTab(QWidget):
    use_in_classify = Signal(str)  # path of a saved checkpoint
    training_done = Signal(object)  # TrainResult, or None when cancelled / failed

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.plan: DatasetPlan | None = None
        self.result: TrainResult | None = None
        self._worker: TaskWorker | None = None
        self._thread = None
        self._started = 0.0
        self._stage = ""
        self._build()
        self.setStyleSheet(style_sheet())
        self.network.restore_settings()
        self.options.restore_settings()
        last = QSettings().value("train/folder", "", type=str)
        if last and Path(last).is_dir():
            self.set_data_folder(last)
        self._sync_buttons()

    # -- layout ------------------------------------------------------------------------------
    def _build(self) -> None:
        self.data = DataPanel()
        self.data.folder_chosen.connect(self.set_data_folder)
        self.data.split_changed.connect(self._rescan)
        self.network = NetworkPanel()
        self.options = OptionsPanel()
        self.start_button = QPushButton("Start training")
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button, 2)
        buttons.addWidget(self.cancel_button, 1)
        self.progress = QProgressBar()
        self.progress.setTextVisible(False)
        self.progress.setFixedHeight(6)
        self.status = QLabel("Choose a folder with one sub-folder of images per class.")
        self.status.setObjectName("runStatus")
        self.status.setWordWrap(True)

        controls = QWidget()
        col = QVBoxLayout(controls)
        col.setContentsMargins(0, 0, 4, 0)
        col.addWidget(self.data, 1)
        col.addWidget(self.network)
        col.addWidget(self.options)
        scroll = QScrollArea()
        scroll.setWidget(controls)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        left = QWidget()
        left.setMinimumWidth(400)
        left_col = QVBoxLayout(left)
        left_col.setContentsMargins(0, 0, 0, 0)
        left_col.addWidget(scroll, 1)
        left_col.addLayout(buttons)
        left_col.addWidget(self.progress)
        left_col.addWidget(self.status)

        self.curves = TrainingCurves()
        self.results = ResultsPanel()
        self.results.save_button.clicked.connect(self._on_save_clicked)
        self.results.use_button.clicked.connect(self.use_result_in_classify)
        self.views = QTabWidget()
        self.views.addTab(self.curves, "Curves")
        self.views.addTab(self.results, "Results")
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.views)
        split = QSplitter()
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(1, 1)
        split.setSizes([450, 830])
        lay = QVBoxLayout(self)
        lay.addWidget(split)

    # -- data --------------------------------------------------------------------------------
    def set_data_folder(self, folder: str) -> bool:
        """Scan ``folder`` and show its classes; False (and a message) if it cannot be used."""
        self.data.set_folder(folder)
        QSettings().setValue("train/folder", folder)
        return self._rescan()

    def _rescan(self) -> bool:
        folder = self.data.folder()
        self.plan = None
        if not folder:
            self.data.show_plan(None)
            self._sync_buttons()
            return False
        QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            self.plan = plan_dataset(
                folder, val_split=self.data.val_split(), seed=self.options.seed()
            )
        except PigeonholeError as e:
            self.data.show_plan(None, error=str(e))
        else:
            self.data.show_plan(self.plan)
            self.status.setText(
                f"{len(self.plan.train)} training and {len(self.plan.val)} validation images "
                f"in {self.plan.num_classes} classes. Ready."
            )
        finally:
            QGuiApplication.restoreOverrideCursor()
        self._sync_buttons()
        return self.plan is not None

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls() and not self.busy:
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        for url in event.mimeData().urls():
            path = Path(url.toLocalFile())
            if path.is_dir():
                self.set_data_folder(str(path))
            elif path.suffix.lower() in (".pth", ".pt", ".pkl", ".safetensors", ".ckpt"):
                self.network.set_checkpoint(str(path))
        event.acceptProposedAction()

    # -- running -----------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self._worker is not None

    def _sync_buttons(self) -> None:
        running = self.busy
        self.start_button.setEnabled(not running and self.plan is not None)
        self.cancel_button.setEnabled(running)
        for w in (self.data, self.network, self.options):
            w.setEnabled(not running)
        self.results.set_result_available(self.result is not None and not running)

    def start(self) -> bool:
        if self.busy or self.plan is None:
            return False
        if self.network.mode() == "checkpoint" and not self.network.checkpoint():
            self.status.setText("Choose the checkpoint to start from, or ImageNet weights.")
            return False
        # the split may depend on the seed: rescan so what is shown is what is trained on
        if not self._rescan():
            return False
        cfg = self.options.config(val_split=self.data.val_split())
        self.network.save_settings()
        self.options.save_settings()
        self.result = None
        self.curves.clear()
        self.results.clear()
        self.views.setCurrentWidget(self.curves)
        self.progress.setRange(0, 0)
        self.status.setText("Starting…")
        self._started = time.perf_counter()
        self._worker = TaskWorker(
            train_task,
            self.plan,
            self.network.arch(),
            self.network.checkpoint() if self.network.mode() == "checkpoint" else None,
            cfg,
        )
        self._stage = ""
        self._worker.item.connect(self._on_item)
        self._worker.progress.connect(self._on_progress)
        self._worker.finished.connect(self._on_finished)
        self._worker.failed.connect(self._on_failed)
        self._thread = start_worker(self._worker, self)
        self._sync_buttons()
        return True

    def cancel(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            self.status.setText("Stopping…")

    def _on_progress(self, done: int, total: int) -> None:
        """Only the weights download reports through here (bytes); the rest comes as records."""
        if self._stage == "weights" and total > 0:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * done / total))
            self.status.setText(
                f"Downloading ImageNet weights: {done / 1e6:.0f} of {total / 1e6:.0f} MB"
            )

    def _on_item(self, record) -> None:
        if isinstance(record, TrainStage):
            self._stage = record.stage
            self.status.setText(record.message + "…")
            if record.stage == "train":
                self.progress.setRange(0, self.options.epochs())
                self.progress.setValue(0)
        elif isinstance(record, ExtractionProgress):
            self.progress.setRange(0, max(1, record.total))
            self.progress.setValue(record.done)
            self.status.setText(record.line().capitalize())
        elif isinstance(record, EpochStats):
            self.curves.add_epoch(record)
            self.progress.setValue(record.epoch)
            self.status.setText(record.line())

    def _on_finished(self, value) -> None:
        self._end_run()
        if value is None:
            self.status.setText("Cancelled. Features extracted so far are cached for next time.")
            self.training_done.emit(None)
            return
        result, thumbs = value
        if result.cancelled and not self.ask_keep_cancelled(result):
            self.status.setText("Cancelled; the partly trained head was discarded.")
            self.training_done.emit(None)
            return
        self.result = result
        self.curves.set_best(result.best_epoch)
        self.results.show_result(result, thumbs)
        self.views.setCurrentWidget(self.results)
        acc = f"{result.val_accuracy:.1%}" if result.val_accuracy is not None else "-"
        took = time.perf_counter() - self._started
        why = " (stopped early)" if result.stopped_early else ""
        why = " (cancelled: best epoch so far kept)" if result.cancelled else why
        self.status.setText(
            f"Done in {took:.1f} s{why}: kept epoch {result.best_epoch}, "
            f"{'validation' if result.eval_split == 'val' else 'training'} accuracy {acc}."
        )
        self._sync_buttons()
        self.training_done.emit(result)

    def _on_failed(self, message: str) -> None:
        self._end_run()
        self.status.setText(f"<span style='color:#b91c1c'>{message}</span>")
        self.training_done.emit(None)

    def _end_run(self) -> None:
        self._worker = None
        self._thread = None
        self.progress.setRange(0, 1)
        self.progress.setValue(1)
        self._sync_buttons()

    def ask_keep_cancelled(self, result: TrainResult) -> bool:
        """Training was cancelled after some epochs: keep the best one so far?"""
        acc = (
            f", validation accuracy {result.val_accuracy:.1%}"
            if result.val_accuracy is not None
            else ""
        )
        answer = QMessageBox.question(
            self,
            "Training cancelled",
            f"Keep the best epoch so far (epoch {result.best_epoch} of {len(result.history)}{acc})?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.Yes,
        )
        return answer == QMessageBox.StandardButton.Yes

    # -- output ------------------------------------------------------------------------------
    def default_save_path(self) -> Path:
        folder = QSettings().value("train/save_dir", "", type=str) or str(Path.home())
        name = self.plan.root.name if self.plan else "model"
        arch = self.result.arch if self.result else self.network.arch()
        return Path(folder) / f"{name}-{arch}.pth"

    def _on_save_clicked(self) -> None:
        if self.result is None:
            return
        path, _ = QFileDialog.getSaveFileName(
            self, "Save checkpoint", str(self.default_save_path()), "PyTorch checkpoint (*.pth)"
        )
        if path:
            self.save_result(path)

    def save_result(self, path: str | Path) -> Path | None:
        """Save the trained network (atomically); returns the path, None on failure."""
        if self.result is None:
            return None
        path = Path(path)
        if not path.suffix:
            path = path.with_suffix(".pth")
        QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            self.result.save(path)
        except (OSError, PigeonholeError) as e:
            self.status.setText(f"<span style='color:#b91c1c'>Could not save {path}: {e}</span>")
            return None
        finally:
            QGuiApplication.restoreOverrideCursor()
        QSettings().setValue("train/save_dir", str(path.parent))
        self.results.set_saved(path)
        self.status.setText(f"Saved to {path}")
        return path

    def use_result_in_classify(self) -> None:
        """Save (to the app's models folder if not saved yet) and hand the path to Classify."""
        if self.result is None:
            return
        path = self.result.saved_to
        if path is None:
            from pigeonhole.core.fileio import data_dir

            stamp = time.strftime("%Y%m%d-%H%M%S")
            name = self.plan.root.name if self.plan else "model"
            path = self.save_result(
                data_dir() / "models" / f"{name}-{self.result.arch}-{stamp}.pth"
            )
        if path is not None:
            self.use_in_classify.emit(str(path))

    def shutdown(self) -> None:
        """Cancel a running training and wait for its thread (window closing)."""
        if self._worker is not None:
            for signal, slot in (
                (self._worker.item, self._on_item),
                (self._worker.finished, self._on_finished),
                (self._worker.failed, self._on_failed),
            ):
                try:
                    signal.disconnect(slot)
                except (RuntimeError, TypeError):
                    pass
        stop_and_wait(self._worker, self._thread)
        self._worker = None
        self._thread = None
