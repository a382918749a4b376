"""The Classify tab: model panel and filters on the left, the thumbnail grid in the middle,
details, evaluation and timing on the right. It owns the results model, its filtered view and
the thumbnail cache, and wires its parts together: ``ui`` (ClassifyLayout), ``runs``
(RunController), ``triage`` (labels, undo, preview), ``output`` (export, sort, undo of moves),
``trust`` (results from another model, evaluation, corrections into a training set),
``model_actions`` (Export model), ``start`` (the start page) and ``script`` (`pigeonhole gui`)."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QSettings, QTimer, Signal
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QApplication, QFileDialog, QMenu, QMessageBox, QWidget

from ..widgets.actions import make_action
from ..widgets.drop_zone import DropContents, parse_drop
from ..widgets.preview import PreviewDialog
from ..widgets.thumbnail_view import DEFAULT_TILE
from ..widgets.thumbnails import ThumbnailCache, ThumbnailLoader
from .banner import Banner
from .layout import ClassifyLayout
from .map_view import MapController
from .model_actions import ModelActions
from .output import OutputController, OutputQuestions
from .pane_actions import PaneActions
from .quality import QualityController
from .questions import (
    QUEUE,
    REPLACE,
    ask_export_scope,
    ask_label,
    ask_new_run,
    ask_save_path,
    ask_sort_options,
)
from .results_filter import ResultsView
from .results_model import ResultsModel
from .run import RunController
from .run_view import RunView, engine_choice
from .script import ScriptedStart
from .similar import SimilarImages
from .skipped import SkippedFiles
from .sort_dialog import SortOptions
from .start import StartGuide
from .tile_heat import TileHeatToggle
from .triage import TriageController
from .trust import ResultsTrust

log = logging.getLogger(__name__)


class ClassifyTab(QWidget):
    status_changed = Signal(str)  # what the tab is doing, for the main window's status bar
    train_requested = Signal()  # the start page's "Train your own…"
    retrain_requested = Signal(str)  # train a new model on this folder of corrections

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.pending: list[str] = []  # paths waiting for a model
        self.results = ResultsModel(self)
        self.view_model = ResultsView(self.results, self)
        self.cache = ThumbnailCache()
        self.loader = ThumbnailLoader(self.cache, parent=self)
        self.ui = ClassifyLayout(self, self.view_model, self.cache, self.loader)
        self.banner = Banner(self.ui.banner, self.ui.banner_action, self.ui.banner_close, self)
        self.runs = RunController(self.results, self.cache, self.ui.timing, self)
        self.triage = TriageController(  # asks through the hooks below, which tests replace
            self,
            self.ui,
            self.results,
            self.view_model,
            self.notify,
            lambda current, choices, count: self._ask_label(current, choices, count),
        )
        self.tile_heat = TileHeatToggle(self, self.ui, self.results, self.notify)
        questions = OutputQuestions(
            save_path=lambda: self._ask_save_path(),
            sort_options=lambda counts: self._ask_sort_options(counts),
            export_scope=lambda counts: self._ask_export_scope(counts),
        )
        self.output = OutputController(
            self,
            self.ui,
            self.results,
            self.view_model,
            self.cache,
            self.runs,
            self.notify,
            questions,
            self.triage.selected_source_rows,
        )
        self.start = StartGuide(self.ui.model_panel, self.ui.drop_zone, self)
        self.run_view = RunView(self.ui)
        self.script = ScriptedStart(
            self,
            self.ui.model_panel,
            self.notify,
            lambda paths: self.pending.extend(paths),
            self.save_screenshot,
        )
        self.similar = SimilarImages(
            self, self.ui, self.results, self.view_model, self.triage, self.notify
        )
        self.map = MapController(
            self, self.similar, self.triage, (self.cache, self.loader), self.notify
        )
        self.quality = QualityController(  # near duplicates, likely mislabelled
            self, self.ui, self.results, self.view_model, self.triage, self.notify,
            lambda: self.runs.running,
        )  # fmt: skip
        self._build_actions()
        self._wire()
        self.trust = ResultsTrust(
            self, self.ui, self.results, self.runs, self.view_model, self.notify
        )
        self.trust.retrain_requested.connect(self.retrain_requested)
        self.skipped = SkippedFiles(self, self.notify)  # the files a run did not classify
        self.ui.banner.linkActivated.connect(self.skipped.on_link)
        self._sync_buttons()
        QTimer.singleShot(0, self, self._autoload)  # after apply_command_line, if any

    def _build_actions(self) -> None:
        self.act_add_folder = make_action(
            self, "Classify a &folder…", self.add_folder, QKeySequence("Ctrl+O")
        )
        self.act_add_files = make_action(
            self, "Classify &images…", self.add_files, QKeySequence("Ctrl+Shift+O")
        )
        self.model_actions = ModelActions(self, self.ui.model_panel, self.notify)
        self.act_cancel = make_action(
            self, "&Cancel run", self.cancel_run, QKeySequence("Esc"), False
        )
        self.pane_actions = PaneActions(self, self.ui.side)
        self.act_show_timing = self.pane_actions.actions["Timing"]

    def _wire(self) -> None:
        ui, mp = self.ui, self.ui.model_panel
        mp.ask = lambda q: self._ask(q)
        mp.model_loaded.connect(self._on_model_loaded)
        mp.load_failed.connect(self._on_load_failed)
        ui.drop_zone.train_clicked.connect(self.train_requested)
        ui.add_folder_button.clicked.connect(self.add_folder)
        ui.add_files_button.clicked.connect(self.add_files)
        ui.drop_zone.add_folder_clicked.connect(self.add_folder)
        ui.drop_zone.add_files_clicked.connect(self.add_files)
        ui.drop_zone.dropped.connect(self.handle_drop)
        ui.cancel_button.clicked.connect(self.cancel_run)
        ui.run_status.changed.connect(self.status_changed)
        self.runs.started.connect(self._on_run_started)
        self.runs.progressed.connect(self.run_view.progressed)
        self.runs.staged.connect(self.run_view.staged)
        self.runs.finished.connect(self._on_run_finished)
        self.runs.failed.connect(self._on_run_failed)
        self.runs.batch_added.connect(self._counts_dirty)
        self.results.corrections_changed.connect(self._counts_dirty)
        self.results.dataChanged.connect(self._show_detail)  # relabelled or moved
        ui.filters.filter_changed.connect(self.view_model.set_filter)
        ui.filters.sort_changed.connect(self.view_model.set_sort)
        self.view_model.modelReset.connect(self._update_shown)
        self.view_model.rowsInserted.connect(self._update_shown)
        ui.grid.selectionModel().currentChanged.connect(self._on_current)
        ui.grid.selectionModel().selectionChanged.connect(self._on_selection)
        self.loader.ready.connect(self._on_thumbnail_ready)
        ui.tile_slider.valueChanged.connect(self._on_tile)
        ui.tile_slider.setValue(QSettings().value("classify/tile", DEFAULT_TILE, type=int))
        self._counts_timer = QTimer(self, singleShot=True, interval=400)
        self._counts_timer.timeout.connect(self._refresh_counts)

    def set_training_folder(self, folder: str) -> None:
        """The folder the model was trained on (the Train tab's, handed over by the main
        window): evaluations are checked against it for leaks."""
        self.trust.leaks.set_training_folder(folder)

    def install_menus(self, menubar) -> QMenu:
        """Add the "Classify" menu to the main window's menu bar."""
        menu = menubar.addMenu("&Classify")
        for group in (
            (self.act_add_folder, self.act_add_files, self.act_cancel),
            self.model_actions.actions,
            self.triage.edit_actions,
            (*self.triage.triage_actions, self.tile_heat.action),
            self.quality.actions,
            self.output.file_actions,
            self.trust.actions,
            (self.skipped.action, self.map.action),
            tuple(self.pane_actions.actions.values()),
        ):
            menu.addActions(list(group))
            menu.addSeparator()
        return menu

    @property
    def status_strip(self) -> QWidget:
        """Progress, Cancel and the tile size, for the main window's status bar."""
        return self.ui.status_strip

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        super().resizeEvent(event)
        self.ui.fit(self.width())

    def _sync_buttons(self) -> None:
        self.act_cancel.setEnabled(self.runs.running)
        self.triage.sync()
        self.quality.sync()
        self.output.sync()

    # -- questions and messages (tests replace the _ask* and _choose_new_run hooks) ----------
    def _ask(self, question: str) -> bool:
        answer = QMessageBox.question(self, "Pigeonhole", question)
        return answer == QMessageBox.StandardButton.Yes

    def _ask_label(self, current: str, choices: list[str], count: int = 1) -> str | None:
        return ask_label(self, current, choices, count)

    def _ask_export_scope(self, counts: dict[str, int]) -> str | None:
        return ask_export_scope(self, counts)

    def _ask_save_path(self) -> str | None:
        return ask_save_path(self)

    def _ask_sort_options(self, counts: dict[str, int]) -> SortOptions | None:
        return ask_sort_options(self, counts)

    def _choose_new_run(self) -> str | None:
        return ask_new_run(self)

    def notify(self, text: str, error: bool = False, warning: bool = False, action=None) -> None:
        """A message above the grid (errors and warnings stay until closed; others for 12 s);
        ``action``: (text, callable) for a button beside it ("Undo")."""
        self.banner.show(text, error, warning, action)

    def hide_banner(self) -> None:
        self.banner.hide()

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
        mp = self.ui.model_panel
        if mp.loaded is None:
            self.pending.extend(paths)
            if mp.busy:
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
        self.runs.start(mp.loaded, paths, mp.run_options())

    def cancel_run(self) -> None:
        self.runs.cancel()  # finished(None) arrives at once: _on_run_finished says so

    # -- model -------------------------------------------------------------------------------
    def load_checkpoint_file(self, path: str, own: bool = False) -> None:
        """Load a checkpoint (from the Train tab, a drop, or the command line); ``own``: as
        the file is, its own names and preprocessing (a model just trained and saved there)."""
        if own:
            self.ui.model_panel.forget_choices(str(path))
        self.ui.model_panel.set_checkpoint_path(str(path))
        self.ui.model_panel.request_load()

    def apply_command_line(self, args) -> None:
        """`pigeonhole gui [PATH...] [--arch] [--checkpoint] [--classes] [--screenshot]
        [--quit-when-done]`: load that model and classify those paths."""
        self.script.apply(args)

    def load_in_background(self) -> None:
        """Once the window shows: torch (gui.widgets.torch_support) and the timing plots'
        pyqtgraph, each imported on a worker."""
        self.ui.model_panel.load_in_background()
        self.ui.timing.build_later()

    def _autoload(self) -> None:
        mp = self.ui.model_panel
        if self.script.active or mp.loaded is not None or mp.busy:
            return
        if not mp.autoload():
            self.start.refresh()

    def _on_model_loaded(self, loaded) -> None:
        self.results.set_class_names(loaded.class_names)
        self.ui.model_line.show_model(loaded, engine_choice(self.ui.model_panel))
        if not self.ui.model_open_by_hand:
            self.ui.fold_model(True)  # the grid gets the room; a click opens it again
        self.notify(f"Model ready: {loaded.arch} with {loaded.num_classes:,} classes.")
        if self.pending:
            paths, self.pending = self.pending, []
            self.classify_paths(paths)
        elif self.script.active and not self.script.has_paths:
            self.script.done(ok=True)

    def _on_load_failed(self, message: str) -> None:
        self.notify(message, error=True)  # the one place it is said
        self.ui.fold_model(False)  # the fields, to put right
        if self.script.active and self.ui.model_panel.loaded is None:
            self.pending.clear()
            self.script.done(ok=False, message=message)

    # -- runs (the run view shows them; here what else follows) -------------------------------
    def _on_run_started(self) -> None:
        self.run_view.started()
        self._sync_buttons()

    def _on_run_finished(self, summary) -> None:
        self.run_view.finished(summary, self.results.rowCount())
        self.skipped.show_summary(summary)
        self._refresh_counts()
        self._sync_buttons()
        self.script.done(ok=summary is not None)

    def _on_run_failed(self, message: str) -> None:
        self.notify(message, error=True)
        if not self.runs.running:
            self.run_view.stopped(self.results.rowCount())
            self._sync_buttons()
            self.script.done(ok=False)

    # -- grid --------------------------------------------------------------------------------
    def _counts_dirty(self, *_args) -> None:
        """The counts of all results and of those shown at once (cheap); the per-class counts
        soon: within 0.1 s of a correction, once a second while a run goes (the class list is
        rebuilt each time)."""
        self.ui.filters.set_total(self.results.rowCount())
        self._update_shown()
        if not self._counts_timer.isActive():
            self._counts_timer.start(1000 if self.runs.running else 100)

    def _refresh_counts(self) -> None:
        r = self.results
        self.ui.filters.update_counts(r.class_counts(), r.rowCount(), r.error_count())
        self._update_shown()

    def _update_shown(self, *_args) -> None:
        vm = self.view_model
        self.ui.filters.set_shown(
            vm.rowCount(), self.results.rowCount(), vm.pinned_title, vm.pinned_order
        )

    def _on_current(self, current, _previous) -> None:
        self._show_detail()

    def _on_selection(self, *_args) -> None:
        self._show_detail()
        self._sync_buttons()

    def _show_detail(self, *_args) -> None:
        grid = self.ui.grid
        idx = grid.currentIndex()
        row = self.results.row_at(self.view_model.source_row(idx.row())) if idx.isValid() else None
        self.ui.detail.show_row(row, len(grid.selectionModel().selectedIndexes()))

    def _on_thumbnail_ready(self, path: str) -> None:
        if self.ui.detail.row is not None and self.ui.detail.row.path == path:
            self.ui.detail.refresh_image()

    def _on_tile(self, px: int) -> None:
        self.ui.grid.set_tile_size(px)
        QSettings().setValue("classify/tile", px)

    # -- triage and output (the controllers', here for the main window and tests) ------------
    def relabel_selected(self, label: str | None = None) -> int:
        return self.triage.relabel_selected(label)

    def export_results(self, path: str | None = None, scope: str | None = None) -> bool:
        return self.output.export_results(path, scope)

    def sort_results(self, options: SortOptions | None = None) -> bool:
        return self.output.sort_results(options)

    def undo_last_move(self) -> bool:
        return self.output.undo_last_move()

    def open_preview(self, index=None) -> PreviewDialog | None:
        return self.triage.open_preview(index)

    def save_screenshot(self, path: str) -> bool:
        """Save a picture of the whole window (after the grid and plots have caught up)."""
        self.ui.timing.redraw()
        self.ui.grid.doItemsLayout()
        QApplication.processEvents()
        return self.window().grab().save(str(path))

    # -- shutdown ---------------------------------------------------------------------------
    def shutdown(self) -> None:
        """Cancel and wait for every worker (window closing)."""
        self.runs.shutdown()
        self.ui.model_panel.shutdown()
        self.triage.shutdown()
        self.quality.shutdown()
        self.output.shutdown()
        self.trust.shutdown()
        self.map.shutdown()
        self.model_actions.shutdown()
        self.loader.shutdown()
        self.ui.timing.shutdown()
