"""The Classify tab: model panel and filters on the left, the thumbnail grid in the middle,
details and timing on the right. Runs, relabelling, export and sorting are wired here; the
work itself is the core's, on worker threads."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import (
    QFileDialog,
    QMessageBox,
    QWidget,
)

from ..widgets.drop_zone import DropContents, parse_drop
from ..widgets.thumbnail_view import DEFAULT_TILE
from ..widgets.thumbnails import ThumbnailCache, ThumbnailLoader
from .layout import ClassifyLayoutMixin
from .output import OutputMixin
from .results_filter import ResultsView
from .results_model import ResultsModel
from .run import RunController, RunProgress
from .script import ScriptedStartMixin

log = logging.getLogger(__name__)
REPLACE, QUEUE = "replace", "queue"


class ClassifyTab(OutputMixin, ScriptedStartMixin, ClassifyLayoutMixin, QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.pending: list[str] = []  # paths waiting for a model
        self.script = None  # the `pigeonhole gui` arguments, when started from the command line
        self.results = ResultsModel(self)
        self.view_model = ResultsView(self.results, self)
        self.cache = ThumbnailCache()
        self.loader = ThumbnailLoader(self.cache, parent=self)
        self._build()
        self.runs = RunController(self.results, self.cache, self.timing, self)
        self._wire()
        self.init_output()
        self._apply_style()
        QTimer.singleShot(0, self, self._autoload)  # after apply_command_line, if any

    def _wire(self) -> None:
        mp = self.model_panel
        mp.model_loaded.connect(self._on_model_loaded)
        mp.load_failed.connect(self._on_load_failed)
        self.add_folder_button.clicked.connect(self.add_folder)
        self.add_files_button.clicked.connect(self.add_files)
        self.drop_zone.add_folder_clicked.connect(self.add_folder)
        self.drop_zone.add_files_clicked.connect(self.add_files)
        self.drop_zone.dropped.connect(self.handle_drop)
        self.cancel_button.clicked.connect(self.cancel_run)
        self.banner_close.clicked.connect(self.hide_banner)
        self.runs.started.connect(self._on_run_started)
        self.runs.progressed.connect(self._on_run_progress)
        self.runs.finished.connect(self._on_run_finished)
        self.runs.failed.connect(self._on_run_failed)
        self.runs.batch_added.connect(self._counts_dirty)
        self.results.corrections_changed.connect(self._counts_dirty)
        self.filters.filter_changed.connect(self.view_model.set_filter)
        self.filters.sort_changed.connect(self.view_model.set_sort)
        self.view_model.modelReset.connect(self._update_shown)
        self.view_model.rowsInserted.connect(self._update_shown)
        self.grid.selectionModel().currentChanged.connect(self._on_current)
        self.grid.selectionModel().selectionChanged.connect(self._on_selection)
        self.grid.preview_requested.connect(self.open_preview)
        self.loader.ready.connect(self._on_thumbnail_ready)
        self.tile_slider.valueChanged.connect(self._on_tile)
        self.tile_slider.setValue(QSettings().value("classify/tile", DEFAULT_TILE, type=int))
        self._banner_timer = QTimer(self, singleShot=True, interval=12_000)
        self._banner_timer.timeout.connect(self.hide_banner)
        self._counts_timer = QTimer(self, singleShot=True, interval=400)
        self._counts_timer.timeout.connect(self._refresh_counts)

    # -- messages (tests replace _ask and _choose_new_run) -----------------------------------
    def _ask(self, question: str) -> bool:
        answer = QMessageBox.question(self, "Pigeonhole", question)
        return answer == QMessageBox.StandardButton.Yes

    def _choose_new_run(self) -> str | None:
        box = QMessageBox(
            QMessageBox.Icon.Question, "Pigeonhole", "A run is still going.", parent=self
        )
        box.setInformativeText("Stop it and classify the new images, or add them after it?")
        stop = box.addButton("Stop and start new", QMessageBox.ButtonRole.AcceptRole)
        queue = box.addButton("Add after this run", QMessageBox.ButtonRole.ActionRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        return (
            REPLACE
            if box.clickedButton() is stop
            else QUEUE
            if box.clickedButton() is queue
            else None
        )

    def notify(self, text: str, error: bool = False) -> None:
        """A message above the grid (errors stay until closed; others for 12 s)."""
        self.banner.setText(text)
        self.banner.setProperty("error", error)
        self.banner.style().unpolish(self.banner)
        self.banner.style().polish(self.banner)
        self.banner.setVisible(True)
        self.banner_close.setVisible(True)
        if error:
            self._banner_timer.stop()
        else:
            self._banner_timer.start()
        if self.drop_zone.currentIndex() == 0:
            self.drop_zone.set_message(text)

    def hide_banner(self) -> None:
        self.banner.setVisible(False)
        self.banner_close.setVisible(False)

    # -- getting images ----------------------------------------------------------------------
    def add_folder(self) -> None:
        start = QSettings().value("classify/last_folder", "", type=str)
        path = QFileDialog.getExistingDirectory(self, "Classify a folder", start)
        if path:
            self.classify_paths([path])

    def add_files(self) -> None:
        start = QSettings().value("classify/last_folder", "", type=str)
        paths, _ = QFileDialog.getOpenFileNames(self, "Classify images", start, "Images (*.*)")
        if paths:
            self.classify_paths(paths)

    def handle_drop(self, contents: DropContents) -> None:
        if contents.refused:
            self.notify(" ".join(contents.refused[:3]), error=True)
        if contents.checkpoints:
            self.load_checkpoint_file(contents.checkpoints[0])
        if contents.paths:
            self.classify_paths(contents.paths)

    def dragEnterEvent(self, event) -> None:  # noqa: N802 (Qt API): drops outside the grid too
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        contents = parse_drop(event.mimeData())
        event.acceptProposedAction()
        self.handle_drop(contents)

    def classify_paths(self, paths: list[str]) -> None:
        """Start a run (or queue it, or wait for the model) for these files and folders."""
        paths = [str(p) for p in paths]
        first = Path(paths[0])
        QSettings().setValue("classify/last_folder", str(first if first.is_dir() else first.parent))
        loaded = self.model_panel.loaded
        if loaded is None:
            self.pending.extend(paths)
            if self.model_panel.busy:
                self.notify("The images will be classified as soon as the model has loaded.")
            else:
                self.notify("Choose a model first (left): the images will be classified then.")
            return
        if self.runs.running:
            choice = self._choose_new_run()
            if choice == QUEUE:
                self.runs.enqueue(paths)
                self.notify(f"Added {len(paths)} item(s) after the current run.")
                return
            if choice != REPLACE:
                return
        self.runs.start(loaded, paths, self.model_panel.run_options())

    def cancel_run(self) -> None:
        self.runs.cancel()
        self.run_status.setText("Cancelling…")

    # -- model -------------------------------------------------------------------------------
    def load_checkpoint_file(self, path: str) -> None:
        """Load a checkpoint (from the Train tab, a drop, or the command line)."""
        self.model_panel.set_checkpoint_path(str(path))
        self.model_panel.request_load()

    def _autoload(self) -> None:
        mp = self.model_panel
        if self.script is not None or mp.loaded is not None or mp.busy:
            return
        if not mp.autoload():
            self.drop_zone.set_message(
                "First choose a model on the left: a checkpoint file, or ImageNet weights."
            )

    def _on_model_loaded(self, loaded) -> None:
        self.results.set_class_names(loaded.class_names)
        self.notify(f"Model ready: {loaded.arch} with {loaded.num_classes:,} classes.")
        if self.pending:
            paths, self.pending = self.pending, []
            self.classify_paths(paths)
        elif self.script is not None and not self.script.paths:
            self._script_done(ok=True)

    def _on_load_failed(self, message: str) -> None:
        self.notify(message, error=True)
        if self.script is not None and self.model_panel.loaded is None:
            self.pending.clear()
            self._script_done(ok=False)

    # -- runs --------------------------------------------------------------------------------
    def _on_run_started(self) -> None:
        self.drop_zone.show_content()
        for b in (self.add_folder_button, self.add_files_button):
            b.setVisible(True)
        self.cancel_button.setEnabled(True)
        self.progress.setRange(0, 0)
        self.run_status.setText("Finding images…")
        self._sync_buttons()

    def _on_run_progress(self, p: RunProgress) -> None:
        if p.total:
            self.progress.setRange(0, p.total)
            self.progress.setValue(p.done)
        self.run_status.setText(p.text())

    def _on_run_finished(self, summary) -> None:
        self.cancel_button.setEnabled(False)
        self.progress.setRange(0, 1)
        self.progress.setValue(1 if summary is not None and not summary.cancelled else 0)
        if summary is None:
            self.run_status.setText(f"Cancelled: {self.results.rowCount():,} images classified.")
        else:
            what = "Cancelled after" if summary.cancelled else "Done:"
            failed = f", {summary.skipped:,} could not be read" if summary.skipped else ""
            self.run_status.setText(
                f"{what} {summary.processed:,} images in {summary.total_s:.1f} s "
                f"({summary.images_per_s:.1f} images/s){failed}."
            )
        self._refresh_counts()
        self._sync_buttons()
        if self.script is not None:
            self._script_done(ok=summary is not None)

    def _on_run_failed(self, message: str) -> None:
        self.notify(message, error=True)
        if not self.runs.running:
            self.cancel_button.setEnabled(False)
            self.progress.setRange(0, 1)
            self.progress.setValue(0)
            self.run_status.setText("Run stopped.")
            if self.results.rowCount() == 0:
                self.drop_zone.show_hint(message)
            self._sync_buttons()
            if self.script is not None:
                self._script_done(ok=False)

    # -- grid --------------------------------------------------------------------------------
    def _counts_dirty(self, *_args) -> None:
        if not self._counts_timer.isActive():
            self._counts_timer.start()

    def _refresh_counts(self) -> None:
        r = self.results
        self.filters.update_counts(r.class_counts(), r.rowCount(), r.error_count())
        self._update_shown()

    def _update_shown(self, *_args) -> None:
        self.filters.set_shown(self.view_model.rowCount(), self.results.rowCount())

    def _on_current(self, current, _previous) -> None:
        self._show_detail()

    def _on_selection(self, *_args) -> None:
        self._show_detail()
        self._sync_buttons()

    def _show_detail(self) -> None:
        idx = self.grid.currentIndex()
        row = self.results.row_at(self.view_model.source_row(idx.row())) if idx.isValid() else None
        self.detail.show_row(row, len(self.grid.selectionModel().selectedIndexes()))

    def _on_thumbnail_ready(self, path: str) -> None:
        if self.detail.row is not None and self.detail.row.path == path:
            self.detail.refresh_image()

    def _on_tile(self, px: int) -> None:
        self.grid.set_tile_size(px)
        QSettings().setValue("classify/tile", px)

    # -- shutdown ---------------------------------------------------------------------------
    def shutdown(self) -> None:
        """Cancel and wait for every worker (window closing)."""
        self.runs.shutdown()
        self.model_panel.shutdown()
        self.shutdown_output()
        self.loader.shutdown()
