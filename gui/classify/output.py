"""Triage and output for the Classify tab: relabel selected tiles, export CSV/JSON, sort into
folders (copy or move, undoable), preview, reveal, and the menu/shortcut actions for all of it.

:class:`OutputController` gets what it works on in its constructor (the results and the view
of them, the tab's widgets, the run controller, a ``notify`` callable) and asks its questions
through :class:`OutputQuestions`, so tests can answer them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Qt, QUrl
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMenu, QWidget

from pigeonhole.core.errors import PigeonholeError

from ..widgets.preview import PreviewDialog
from ..widgets.thumbnails import ThumbnailCache
from ..widgets.workers import WorkerSlot
from .layout import ClassifyLayout
from .results_filter import ResultsView
from .results_model import ResultsModel
from .run import RunController
from .sort_dialog import ALL, SELECTED, SHOWN, SortDialog, SortOptions

log = logging.getLogger(__name__)


def undo_task(manifest: str, *, should_stop=None, progress=None):
    """Worker body for undoing a move (core.sorting.undo_move is not cancellable)."""
    from pigeonhole.core.sorting import undo_move

    return undo_move(manifest)


def make_action(
    host: QWidget,
    text: str,
    slot: Callable[[], object],
    shortcut: QKeySequence | list[QKeySequence] | None = None,
    enabled: bool = True,
) -> QAction:
    """An action of ``host`` (its shortcuts work while the focus is inside it) that calls
    ``slot`` with no arguments."""
    a = QAction(text, host)
    if shortcut is not None:
        a.setShortcuts(shortcut if isinstance(shortcut, list) else [shortcut])
        a.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
    a.triggered.connect(lambda _checked=False: slot())
    a.setEnabled(enabled)
    host.addAction(a)
    return a


# -- the dialogs (the tab's test hooks call these) --------------------------------------------
def ask_label(parent: QWidget, current: str, choices: list[str]) -> str | None:
    """The label for the selected images, from the known ones or typed; None if cancelled."""
    label, ok = QInputDialog.getItem(
        parent,
        "Correct label",
        "Label for the selected images:",
        choices,
        max(0, choices.index(current)) if current in choices else 0,
        True,
    )
    return label.strip() if ok and label.strip() else None


def ask_save_path(parent: QWidget) -> str | None:
    """Where to export the results (CSV or JSON); None if cancelled."""
    folder = QSettings().value("classify/last_folder", "", type=str)
    default = str(Path(folder) / "results.csv") if folder else "results.csv"
    start = QSettings().value("classify/export_path", default, type=str)
    path, chosen = QFileDialog.getSaveFileName(
        parent, "Export results", start, "CSV (*.csv);;JSON (*.json)"
    )
    if path and not Path(path).suffix:
        path += ".json" if "json" in chosen.lower() else ".csv"
    return path or None


def ask_sort_options(parent: QWidget, counts: dict[str, int]) -> SortOptions | None:
    """How to sort into folders (``counts``: images per scope); None if cancelled."""
    dialog = SortDialog(counts, parent)
    return dialog.options() if dialog.exec() else None


@dataclass(frozen=True, slots=True)
class OutputQuestions:
    """The questions the output controller asks the person (the tab answers through its
    ``_ask_*`` hooks, which tests replace)."""

    label: Callable[[str, list[str]], str | None]
    save_path: Callable[[], str | None]
    sort_options: Callable[[dict[str, int]], SortOptions | None]


class OutputController(QObject):
    """Relabelling, export, sorting into folders (one file operation at a time, on a worker
    thread) and its undo, preview and reveal for the tiles of the Classify tab."""

    def __init__(
        self,
        host: QWidget,
        ui: ClassifyLayout,
        results: ResultsModel,
        view_model: ResultsView,
        cache: ThumbnailCache,
        runs: RunController,
        notify: Callable[..., None],
        questions: OutputQuestions,
    ) -> None:
        super().__init__(host)
        self.host, self.ui, self.results, self.view_model = host, ui, results, view_model
        self.cache, self.runs, self.notify, self.questions = cache, runs, notify, questions
        self.preview: PreviewDialog | None = None
        self.last_manifest: str | None = (
            QSettings().value("sort/last_manifest", "", type=str) or None
        )
        self.file_work = WorkerSlot(
            self,
            on_progress=self._on_file_progress,
            on_finished=self._on_file_done,
            on_failed=self._on_file_failed,
        )

        def action(text, slot, shortcut=None, enabled=False) -> QAction:
            return make_action(host, text, slot, shortcut, enabled)

        self.act_relabel = action(
            "Correct &label…", self.relabel_selected, [QKeySequence("F2"), QKeySequence("Ctrl+L")]
        )
        self.act_unlabel = action("&Remove correction", self.clear_correction)
        self.act_preview = action("&Preview", self.open_preview, QKeySequence("Space"))
        self.act_reveal = action("Show in &folder", self.reveal_selected)
        self.act_export = action("&Export results…", self.export_results, QKeySequence("Ctrl+E"))
        self.act_sort = action(
            "&Sort into folders…", self.sort_results, QKeySequence("Ctrl+Shift+S")
        )
        self.act_undo = action(
            "&Undo last move", self.undo_last_move, None, self.last_manifest is not None
        )
        self.triage_actions = (
            self.act_relabel,
            self.act_unlabel,
            self.act_preview,
            self.act_reveal,
        )
        self.file_actions = (self.act_export, self.act_sort, self.act_undo)
        ui.export_button.clicked.connect(self.export_results)
        ui.sort_button.clicked.connect(self.sort_results)
        ui.undo_button.clicked.connect(self.undo_last_move)
        ui.grid.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        ui.grid.customContextMenuRequested.connect(self._context_menu)
        self.sync()

    @property
    def busy(self) -> bool:
        """Files are being copied, moved or put back."""
        return self.file_work.busy

    def _context_menu(self, pos) -> None:
        if not self.selected_source_rows():
            return
        menu = QMenu(self.host)
        menu.addActions(list(self.triage_actions))
        menu.popup(self.ui.grid.viewport().mapToGlobal(pos))

    def sync(self) -> None:
        """Enable what can be done now (results, a run going, a file operation, a selection)."""
        ui = self.ui
        has = self.results.rowCount() > 0
        running = self.runs.running
        selected = bool(ui.grid.selectionModel().hasSelection())
        ui.export_button.setEnabled(has)
        self.act_export.setEnabled(has)
        ui.sort_button.setEnabled(has and not running and not self.busy)
        self.act_sort.setEnabled(ui.sort_button.isEnabled())
        can_undo = self.last_manifest is not None and not self.busy and not running
        ui.undo_button.setEnabled(can_undo)
        self.act_undo.setEnabled(can_undo)
        for a in self.triage_actions:
            a.setEnabled(selected)

    # -- selection ---------------------------------------------------------------------------
    def selected_source_rows(self) -> list[int]:
        """The selected tiles, as rows of the results model."""
        rows = self.ui.grid.selectionModel().selectedIndexes()
        return sorted(self.view_model.source_row(i.row()) for i in rows)

    def shown_source_rows(self) -> list[int]:
        """The tiles the filters show, as rows of the results model."""
        return self.view_model.source_rows()

    # -- relabelling -------------------------------------------------------------------------
    def relabel_selected(self, label: str | None = None) -> int:
        """Correct the label of the selected images (asking which, without ``label``)."""
        rows = [i for i in self.selected_source_rows() if self.results.row_at(i).ok]
        if not rows:
            return 0
        if label is None:
            label = self.questions.label(
                self.results.row_at(rows[0]).label or "", self.results.known_labels()
            )
            if label is None:
                return 0
        n = self.results.set_label(rows, label)
        self.notify(f"{len(rows):,} image(s) labelled '{label}'.")
        return n

    def clear_correction(self) -> int:
        """Give the selected images their predicted labels back."""
        return self.results.set_label(self.selected_source_rows(), None)

    # -- export ------------------------------------------------------------------------------
    def export_results(self, path: str | None = None) -> bool:
        """Write the results with corrections to ``path`` (asking where, without it)."""
        from pigeonhole.core.export import write_results

        path = path or self.questions.save_path()
        if not path:
            return False
        try:
            write_results(
                path,
                self.results.predictions(),
                summary=self.runs.summary,
                topk=5,
                corrections=self.results.corrections(),
            )
        except PigeonholeError as e:
            self.notify(str(e), error=True)
            return False
        except (OSError, ValueError) as e:
            self.notify(f"Could not write {path}: {e}", error=True)
            return False
        QSettings().setValue("classify/export_path", str(path))
        self.notify(f"Exported {self.results.rowCount():,} results to {path}.")
        return True

    # -- sorting into folders ----------------------------------------------------------------
    def sort_results(self, options: SortOptions | None = None) -> bool:
        """Copy or move the images into class folders (asking how, without ``options``)."""
        from pigeonhole.core.sorting import SortItem, sort_into_folders

        if self.runs.running or self.busy:
            return False
        ok = lambda rows: [i for i in rows if self.results.row_at(i).ok]  # noqa: E731
        scopes = {
            ALL: ok(range(self.results.rowCount())),
            SHOWN: ok(self.shown_source_rows()),
            SELECTED: ok(self.selected_source_rows()),
        }
        options = options or self.questions.sort_options({k: len(v) for k, v in scopes.items()})
        if options is None:
            return False
        items = []
        for i in scopes[options.scope]:
            r = self.results.row_at(i)
            items.append(SortItem(r.path, r.label, r.pred.confidence))
        self.file_work.start(
            sort_into_folders,
            items,
            options.dest,
            mode=options.mode,
            unsure_threshold=options.unsure_threshold,
            unsure_name=options.unsure_name,
        )
        verb = "Moving" if options.mode == "move" else "Copying"
        self._file_work_started(f"{verb} {len(items):,} images into {options.dest}…")
        return True

    def undo_last_move(self) -> bool:
        """Put the files of the last move back where they were."""
        if not self.last_manifest or self.busy or self.runs.running:
            return False
        if not Path(self.last_manifest).is_file():
            self.notify(f"The move record {self.last_manifest} is gone; nothing to undo.", True)
            self._set_manifest(None)
            return False
        self.file_work.start(undo_task, self.last_manifest)
        self._file_work_started("Putting the files back…")
        return True

    def _file_work_started(self, text: str) -> None:
        self.ui.run_status.setText(text)
        self.ui.progress.setRange(0, 0)
        self.sync()

    def _on_file_progress(self, done: int, total: int) -> None:
        if total > 0:
            self.ui.progress.setRange(0, total)
            self.ui.progress.setValue(done)

    def _file_work_ended(self) -> None:
        self.ui.progress.setRange(0, 1)
        self.ui.progress.setValue(1)
        self.sync()

    def _on_file_done(self, report) -> None:
        self._file_work_ended()
        if report is None:
            self.ui.run_status.setText("Stopped.")
            return
        moved = {src: dst for src, dst in report.placed} if report.mode in ("move", "undo") else {}
        if moved:
            self.results.rename_paths(moved)
            for src, dst in moved.items():
                self.cache.rename(src, dst)
        if report.mode == "move":
            self._set_manifest(str(report.manifest) if report.manifest else None)
        elif report.mode == "undo":
            self._set_manifest(None)
        text = report.line()[:1].upper() + report.line()[1:]
        if report.errors:
            text += ": " + "; ".join(report.errors[:3])
        self.ui.run_status.setText(text + ".")
        self.notify(text + ".", error=bool(report.errors))

    def _on_file_failed(self, message: str) -> None:
        self._file_work_ended()
        self.ui.run_status.setText("Sorting failed.")
        self.notify(message, error=True)

    def _set_manifest(self, path: str | None) -> None:
        self.last_manifest = path
        QSettings().setValue("sort/last_manifest", path or "")
        self.sync()

    # -- preview and reveal ------------------------------------------------------------------
    def open_preview(self, index=None) -> PreviewDialog | None:
        """Show the image at ``index`` (the current tile, without it) at full size."""
        grid = self.ui.grid
        index = index if index is not None and index.isValid() else grid.currentIndex()
        if not index.isValid():
            return None
        row = self.results.row_at(self.view_model.source_row(index.row()))
        if self.preview is not None:
            self.preview.close()
        self.preview = PreviewDialog(row, self.host)
        self.preview.show()
        return self.preview

    def reveal_selected(self) -> None:
        """Open the folder of the first selected image in the file manager."""
        rows = self.selected_source_rows()
        if rows:
            folder = Path(self.results.row_at(rows[0]).path).parent
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def shutdown(self) -> None:
        """Wait for a file operation to end (window closing) and close the preview."""
        self.file_work.shutdown()
        if self.preview is not None:
            self.preview.close()
