"""The Train tab: choose a folder of class folders, train a new final layer, look at the
results, save the checkpoint or use it in the Classify tab in one click.

The work (the dataset scan, core.training.fine_tune.train_classifier, the checkpoint save) runs on worker
threads through WorkerSlots; this module only turns clicks into a TrainConfig and records
(DatasetPlan, ExtractionProgress, EpochStats, TrainResult) into views.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QSettings, Signal
from PySide6.QtWidgets import (
    QMessageBox,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ...core.data.datasets import DatasetPlan
from ...core.models.files import is_checkpoint_name
from ...core.runtime.options import INT8, RunOptions
from ...core.training.records import EpochStats, ExtractionProgress, TrainResult, TrainStage
from .. import style_sheet
from ..widgets.model_loading import NeedsTrust
from ..widgets.torch_support import TorchFactsLoader, needs_full_install
from ..widgets.workers import WorkerSlot
from .output import TrainOutput
from .panels import TrainControls
from .plots import TrainingCurves
from .progress import TrainProgress, error_html
from .results import ResultsPanel
from .review import MisclassifiedReview
from .tasks import TrainingRequest, scan_task, train_task

log = logging.getLogger(__name__)
FOLDER_HINT = "Choose a folder with one sub-folder of images per class."


class TrainTab(QWidget):
    use_in_classify = Signal(str)  # path of a saved checkpoint
    training_done = Signal(object)  # TrainResult, or None when cancelled / failed
    scanned = Signal(object)  # the DatasetPlan of the data folder, or None when it is unusable
    saved = Signal(object)  # the checkpoint's Path once written, or None when saving failed

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.plan: DatasetPlan | None = None
        self.result: TrainResult | None = None
        self.scanning = WorkerSlot(
            self, on_finished=self._on_scanned, on_failed=self._on_scan_failed
        )
        self.training = WorkerSlot(
            self,
            on_item=self._on_item,
            on_progress=self._on_progress,
            on_finished=self._on_finished,
            on_failed=self._on_failed,
        )
        self._train_after_scan: TrainingRequest | None = None  # Start waits for a rescan
        self._last_request: TrainingRequest | None = None
        # How the backbone runs: the window hands in the Model panel's choices (device, engine,
        # precision, batch); alone, everything automatic. ``ask`` puts a yes/no question.
        self.run_options: Callable[[], RunOptions] = RunOptions
        self.ask: Callable[[str], bool] = self._ask_question
        self._started = 0.0
        self._stage = ""
        self.torch_facts = TorchFactsLoader(
            self
        )  # training needs torch (the window shares the panel's)
        self._build()
        self.setStyleSheet(style_sheet())
        self.network.restore_settings()
        self.options.restore_settings()
        self.use_torch(self.torch_facts)
        last = QSettings().value("train/folder", "", type=str)
        if last and Path(last).is_dir():
            self.set_data_folder(last)
        self._sync_buttons()

    # -- layout ------------------------------------------------------------------------------
    def _build(self) -> None:
        left = TrainControls()
        self.data, self.network, self.options = left.data, left.network, left.options
        self.start_button, self.cancel_button = left.start_button, left.cancel_button
        self.notice = left.notice
        self.data.folder_chosen.connect(self.set_data_folder)
        self.data.split_changed.connect(self._rescan)
        self.start_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)

        # The progress line (stage, epoch n of N, best so far), above what it talks about.
        self.line = TrainProgress(FOLDER_HINT)
        self.status, self.progress = self.line.status, self.line.bar
        self.curves = TrainingCurves()
        self.curves.drawn.connect(self._on_curves_drawn)
        self.results = ResultsPanel()
        self.output = TrainOutput(
            self, self.results, self.status, lambda: self.result, self.default_name
        )
        self.saving = self.output.saving
        self.output.saved.connect(self.saved)
        self.output.use_in_classify.connect(self.use_in_classify)
        self.output.busy_changed.connect(self._sync_buttons)
        self.results.wrong.itemActivated.connect(
            lambda item: self.review.open(self.results.wrong.row(item))
        )
        self.review = MisclassifiedReview(self, self.line.set_text)
        self.review.moved.connect(self._on_image_moved)
        self.views = QTabWidget()
        self.views.addTab(self.curves, "Curves")
        self.views.addTab(self.results, "Results")
        right = QWidget()
        right_col = QVBoxLayout(right)
        right_col.setContentsMargins(0, 0, 0, 0)
        right_col.addWidget(self.line)
        right_col.addWidget(self.views, 1)
        self.split = QSplitter()
        self.split.setChildrenCollapsible(False)
        self.split.addWidget(left)
        self.split.addWidget(right)
        self.split.setStretchFactor(1, 1)
        self.split.setSizes([420, 860])
        lay = QVBoxLayout(self)
        lay.addWidget(self.split)

    # -- torch -------------------------------------------------------------------------------
    def use_torch(self, loader: TorchFactsLoader) -> None:
        """Follow ``loader`` (the window hands in the Model panel's: one import, one answer)."""
        if loader is not self.torch_facts:
            self.torch_facts.ready.disconnect(self._use_torch_facts)
            self.torch_facts = loader
        loader.ready.connect(self._use_torch_facts)
        if loader.facts is not None:
            self._use_torch_facts(loader.facts)

    def showEvent(self, event) -> None:  # noqa: N802 (Qt API)
        """Shown: training is near, so torch starts importing (on a worker)."""
        super().showEvent(event)
        self.torch_facts.load()

    def _use_torch_facts(self, facts) -> None:
        if facts.missing is not None:
            self.notice.setText(
                needs_full_install("Training")
                + " This install classifies, evaluates and sorts with ONNX models."
            )
            self.notice.setToolTip(facts.missing)
        self.notice.setVisible(facts.missing is not None)
        self._sync_buttons()

    # -- data --------------------------------------------------------------------------------
    def set_data_folder(self, folder: str) -> None:
        """Show ``folder`` and scan it off the GUI thread; ``scanned`` tells what was found."""
        self.data.set_folder(folder)
        QSettings().setValue("train/folder", folder)
        self._rescan()

    def _rescan(self) -> None:
        """Scan the data folder again (a scan still going is replaced); Start waits for it."""
        folder = self.data.folder()
        self.plan = None
        if not folder:
            self.scanning.discard()
            self.data.show_plan(None)
        else:
            self.status.setText(f"Scanning {folder}…")
            self.scanning.start(scan_task, folder, self.data.val_split(), self.options.seed())
        self._sync_buttons()

    def _on_scanned(self, plan: DatasetPlan) -> None:
        self.plan = plan
        self.data.show_plan(plan)
        self.status.setText(
            f"{len(plan.train)} training and {len(plan.val)} validation images "
            f"in {plan.num_classes} classes. Ready."
        )
        request, self._train_after_scan = self._train_after_scan, None
        if request is not None:
            self._start_training(request)
        self._sync_buttons()
        self.scanned.emit(plan)

    def _on_scan_failed(self, message: str) -> None:
        self.data.show_plan(None, error=message)
        self.status.setText(FOLDER_HINT)
        request, self._train_after_scan = self._train_after_scan, None
        self._sync_buttons()
        if request is not None:
            self.training_done.emit(None)
        self.scanned.emit(None)

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls() and not self.busy:
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        for url in event.mimeData().urls():
            path = Path(url.toLocalFile())
            if path.is_dir():
                self.set_data_folder(str(path))
            elif is_checkpoint_name(path.name):
                self.network.set_checkpoint(str(path))
        event.acceptProposedAction()

    # -- running -----------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        """Training (or scanning just before it) or saving: the settings are locked meanwhile."""
        return self.training.busy or self._train_after_scan is not None or self.output.busy

    def _sync_buttons(self) -> None:
        busy = self.busy
        ready = self.plan is not None and not self.torch_facts.missing
        self.start_button.setEnabled(not busy and ready)
        self.cancel_button.setEnabled(self.training.busy or self._train_after_scan is not None)
        for w in (self.data, self.network, self.options):
            w.setEnabled(not busy)
        self.results.set_result_available(self.result is not None and not busy)

    def start(self) -> bool:
        """Scan the folder once more (the split may depend on the seed: what is shown is what
        is trained on), then train. False when there is nothing to start."""
        if self.busy or self.plan is None or self.torch_facts.missing:
            return False
        if self.network.mode() == "checkpoint" and not self.network.checkpoint():
            self.status.setText("Choose the checkpoint to start from, or ImageNet weights.")
            return False
        config = self.options.config(val_split=self.data.val_split())
        run = self.run_options()
        if run.precision == INT8:  # features are extracted in floating point
            run = replace(run, precision="auto")
        request = TrainingRequest(self.network.source(), replace(config, run=run))
        self.network.save_settings()
        self.options.save_settings()
        self.progress.setRange(0, 0)
        self._train_after_scan = request
        self._rescan()
        return True

    def _start_training(self, request: TrainingRequest) -> None:
        self.result = None
        self.curves.clear()
        self.results.clear()
        self.review.set_result([], [])
        self.views.setCurrentWidget(self.curves)
        self.line.start(request.config.epochs)
        self._started = time.perf_counter()
        self._stage = ""
        self._last_request = request
        self.training.start(train_task, self.plan, request)

    def cancel(self) -> None:
        """Stop the training. Before its epochs (loading, extracting features: nothing to keep)
        the tab lets go of it at once and its threads wind down within a batch in the
        background; during the epochs, core stops within a mini-batch and hands over the best
        epoch so far, which the person may keep."""
        if self.training.busy and self._stage in ("", "weights", "extract"):
            self.training.discard()
            self._cancelled()
        elif self.training.busy:
            self.training.cancel()
            self.status.setText("<b>Stopping…</b>")
        elif self._train_after_scan is not None:  # still scanning: do not train after it
            self._train_after_scan = None
            self.line.end("Cancelled.")
            self._sync_buttons()
            self.training_done.emit(None)

    def _cancelled(self) -> None:
        self._end_run()
        self.line.end("Cancelled. Features extracted so far are cached for next time.")
        self.training_done.emit(None)

    def _on_progress(self, done: int, total: int) -> None:
        """Only the weights download reports through here (bytes); the rest comes as records."""
        if self._stage == "weights" and total > 0:
            self.line.download(done, total)

    def _on_item(self, record) -> None:
        if isinstance(record, TrainStage):
            self._stage = record.stage
            self.line.stage(record)
        elif isinstance(record, ExtractionProgress):
            self.line.extraction(record)
        elif isinstance(record, EpochStats):
            self.curves.add_epoch(record)  # the line follows when the curves draw it

    def _on_curves_drawn(self, history) -> None:
        if self.training.busy and self._stage == "train":
            self.line.epoch(history)

    def _on_finished(self, value) -> None:
        self._end_run()
        if value is None:
            self._cancelled()
            return
        if isinstance(value, NeedsTrust):
            self._ask_trust(value)
            return
        result, thumbs = value
        if result.cancelled and not self.ask_keep_cancelled(result):
            self.status.setText("Cancelled; the partly trained head was discarded.")
            self.training_done.emit(None)
            return
        self.result = result
        self.curves.set_best(result.best_epoch)
        self.line.epoch(result.history)  # the final epoch and best, with any hint
        self.results.show_result(result, thumbs)
        self.review.set_result(
            result.misclassified[: self.results.wrong.count()], result.class_names
        )
        self.views.setCurrentWidget(self.results)
        took = time.perf_counter() - self._started
        why = " (stopped early)" if result.stopped_early else ""
        why = " (cancelled: best epoch so far kept)" if result.cancelled else why
        # the figure the epoch was chosen by, as the command line says it
        self.line.end(f"<b>Done</b> in {took:.1f} s{why}: {result.kept_line()}.")
        self._sync_buttons()
        self.training_done.emit(result)

    def _ask_question(self, question: str) -> bool:
        answer = QMessageBox.question(self, "Pigeonhole", question)
        return answer == QMessageBox.StandardButton.Yes

    def _ask_trust(self, needs: NeedsTrust) -> None:
        """The base checkpoint needs pickle code: train on it only if the person trusts it."""
        question = (
            f"{needs.message}\n\nTrain on it anyway? Only for files you trust: such a file "
            "can run any code on this computer."
        )
        if self.ask(question):
            request = TrainingRequest(self.network.source(trust=True), self._last_request.config)
            self._train_after_scan = request
            self._rescan()
        else:
            self.line.end(error_html("Not trained: the checkpoint needs code you did not trust."))
            self.training_done.emit(None)

    def _on_failed(self, message: str) -> None:
        self._end_run()
        self.line.end(error_html(message))  # the one place it is said
        self.training_done.emit(None)

    def _end_run(self) -> None:
        self.progress.setRange(0, 1)
        self.progress.setValue(1)
        self._sync_buttons()

    def _on_image_moved(self, old: str, new: str) -> None:
        """A misclassified image went to another class folder: the list and the data set's
        counts follow (the trained model stays as it was until the next training)."""
        self.results.mark_moved(old, new)
        if not self.busy:
            self._rescan()

    def ask_keep_cancelled(self, result: TrainResult) -> bool:
        """Training was cancelled after some epochs: keep the best one so far?"""
        answer = QMessageBox.question(
            self,
            "Training cancelled",
            f"Keep the best epoch so far? After {len(result.history)} epochs: "
            f"{result.kept_line()}.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.Yes,
        )
        return answer == QMessageBox.StandardButton.Yes

    # -- output (gui.train.output's; here for the main window and tests) ---------------------
    def default_name(self) -> str:
        """The trained model's file name without suffix: "<data folder>-<network>"."""
        name = self.plan.root.name if self.plan else "model"
        return f"{name}-{self.result.arch if self.result else self.network.arch()}"

    def save_result(self, path: str | Path) -> Path | None:
        """Save the trained network (checked first, written off the GUI thread); the path it
        goes to, None when nothing started. ``saved`` tells when it is written."""
        return self.output.save(path)

    def use_result_in_classify(self) -> None:
        self.output.use_in_classify_now()

    def export_result(self, path: str | None = None) -> bool:
        """Export the trained network (ONNX or TorchScript) for other tools."""
        return self.output.export(path)

    def shutdown(self) -> None:
        """Cancel a scan or a training and wait for their threads, and for a save to complete
        (window closing)."""
        self._train_after_scan = None
        self.review.shutdown()
        for slot in (self.scanning, self.training):
            slot.shutdown()
        self.torch_facts.shutdown()
        self.output.shutdown()
