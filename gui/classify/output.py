"""Triage and output for the Classify tab: relabel selected tiles, export CSV/JSON, sort into
folders (copy or move, undoable), preview, and the menu/shortcut actions for all of it.

A mixin of :class:`gui.classify_tab.ClassifyTab`: it uses the tab's ``results``,
``view_model``, ``grid``, ``runs`` and ``notify``. The dialogs go through small ``_ask_*``
methods so tests can answer them.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QUrl
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMenu

from pigeonhole.core.errors import PigeonholeError

from ..widgets.preview import PreviewDialog
from ..widgets.workers import TaskWorker, start_worker, stop_and_wait
from .sort_dialog import ALL, SELECTED, SHOWN, SortDialog, SortOptions

log = logging.getLogger(__name__)


def undo_task(manifest: str, *, should_stop=None, progress=None):
    """Worker body for undoing a move (core.sorting.undo_move is not cancellable)."""
    from pigeonhole.core.sorting import undo_move

    return undo_move(manifest)


class OutputMixin:
    # -- set-up ------------------------------------------------------------------------------
    def init_output(self) -> None:
        self._file_worker: TaskWorker | None = None
        self._file_thread = None
        self._preview = None
        self.last_manifest: str | None = (
            QSettings().value("sort/last_manifest", "", type=str) or None
        )

        def action(text, slot, shortcut=None, enabled=True) -> QAction:
            a = QAction(text, self)
            if shortcut is not None:
                a.setShortcuts(shortcut if isinstance(shortcut, list) else [shortcut])
                a.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            a.triggered.connect(lambda _checked=False: slot())
            a.setEnabled(enabled)
            self.addAction(a)
            return a

        self.act_add_folder = action("Classify a &folder…", self.add_folder, QKeySequence("Ctrl+O"))
        self.act_add_files = action(
            "Classify &images…", self.add_files, QKeySequence("Ctrl+Shift+O")
        )
        self.act_checkpoint = action("Load &checkpoint…", self.model_panel.choose_checkpoint)
        self.act_cancel = action("&Cancel run", self.cancel_run, QKeySequence("Esc"), False)
        self.act_relabel = action(
            "Correct &label…",
            self.relabel_selected,
            [QKeySequence("F2"), QKeySequence("Ctrl+L")],
            False,
        )
        self.act_unlabel = action("&Remove correction", self.clear_correction, None, False)
        self.act_preview = action("&Preview", self.open_preview, QKeySequence("Space"), False)
        self.act_reveal = action("Show in &folder", self.reveal_selected, None, False)
        self.act_export = action(
            "&Export results…", self.export_results, QKeySequence("Ctrl+E"), False
        )
        self.act_sort = action(
            "&Sort into folders…", self.sort_results, QKeySequence("Ctrl+Shift+S"), False
        )
        self.act_undo = action(
            "&Undo last move", self.undo_last_move, None, self.last_manifest is not None
        )
        self.export_button.clicked.connect(self.export_results)
        self.sort_button.clicked.connect(self.sort_results)
        self.undo_button.clicked.connect(self.undo_last_move)
        self.grid.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.grid.customContextMenuRequested.connect(self._context_menu)
        self._sync_buttons()

    def install_menus(self, menubar) -> QMenu:
        """Add the "Classify" menu to the main window's menu bar."""
        menu = menubar.addMenu("&Classify")
        for group in (
            (self.act_add_folder, self.act_add_files, self.act_checkpoint, self.act_cancel),
            (self.act_relabel, self.act_unlabel, self.act_preview, self.act_reveal),
            (self.act_export, self.act_sort, self.act_undo),
        ):
            menu.addActions(list(group))
            menu.addSeparator()
        return menu

    def _context_menu(self, pos) -> None:
        if not self.selected_source_rows():
            return
        menu = QMenu(self)
        menu.addActions([self.act_relabel, self.act_unlabel, self.act_preview, self.act_reveal])
        menu.popup(self.grid.viewport().mapToGlobal(pos))

    def _sync_buttons(self) -> None:
        has = self.results.rowCount() > 0
        running = self.runs.running
        busy_files = self._file_worker is not None
        selected = bool(self.grid.selectionModel().hasSelection())
        self.export_button.setEnabled(has)
        self.act_export.setEnabled(has)
        self.sort_button.setEnabled(has and not running and not busy_files)
        self.act_sort.setEnabled(self.sort_button.isEnabled())
        can_undo = self.last_manifest is not None and not busy_files and not running
        self.undo_button.setEnabled(can_undo)
        self.act_undo.setEnabled(can_undo)
        self.act_cancel.setEnabled(running)
        for a in (self.act_relabel, self.act_unlabel, self.act_preview, self.act_reveal):
            a.setEnabled(selected)

    # -- selection ---------------------------------------------------------------------------
    def selected_source_rows(self) -> list[int]:
        rows = self.grid.selectionModel().selectedIndexes()
        return sorted(self.view_model.source_row(i.row()) for i in rows)

    def shown_source_rows(self) -> list[int]:
        return self.view_model.source_rows()

    # -- relabelling -------------------------------------------------------------------------
    def _ask_label(self, current: str, choices: list[str]) -> str | None:
        label, ok = QInputDialog.getItem(
            self,
            "Correct label",
            "Label for the selected images:",
            choices,
            max(0, choices.index(current)) if current in choices else 0,
            True,
        )
        return label.strip() if ok and label.strip() else None

    def relabel_selected(self, label: str | None = None) -> int:
        rows = [i for i in self.selected_source_rows() if self.results.row_at(i).ok]
        if not rows:
            return 0
        if label is None:
            label = self._ask_label(
                self.results.row_at(rows[0]).label or "", self.results.known_labels()
            )
            if label is None:
                return 0
        n = self.results.set_label(rows, label)
        self.notify(f"{len(rows):,} image(s) labelled '{label}'.")
        self._show_detail()
        return n

    def clear_correction(self) -> int:
        n = self.results.set_label(self.selected_source_rows(), None)
        self._show_detail()
        return n

    # -- export ------------------------------------------------------------------------------
    def _ask_save_path(self) -> str | None:
        folder = QSettings().value("classify/last_folder", "", type=str)
        default = str(Path(folder) / "results.csv") if folder else "results.csv"
        start = QSettings().value("classify/export_path", default, type=str)
        path, chosen = QFileDialog.getSaveFileName(
            self, "Export results", start, "CSV (*.csv);;JSON (*.json)"
        )
        if path and not Path(path).suffix:
            path += ".json" if "json" in chosen.lower() else ".csv"
        return path or None

    def export_results(self, path: str | None = None) -> bool:
        from pigeonhole.core.export import write_results

        path = path or self._ask_save_path()
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
    def _ask_sort_options(self, counts: dict[str, int]) -> SortOptions | None:
        dialog = SortDialog(counts, self)
        return dialog.options() if dialog.exec() else None

    def sort_results(self, options: SortOptions | None = None) -> bool:
        from pigeonhole.core.sorting import SortItem, sort_into_folders

        if self.runs.running or self._file_worker is not None:
            return False
        ok = lambda rows: [i for i in rows if self.results.row_at(i).ok]  # noqa: E731
        scopes = {
            ALL: ok(range(self.results.rowCount())),
            SHOWN: ok(self.shown_source_rows()),
            SELECTED: ok(self.selected_source_rows()),
        }
        options = options or self._ask_sort_options({k: len(v) for k, v in scopes.items()})
        if options is None:
            return False
        items = []
        for i in scopes[options.scope]:
            r = self.results.row_at(i)
            items.append(SortItem(r.path, r.label, r.pred.confidence))
        worker = TaskWorker(
            sort_into_folders,
            items,
            options.dest,
            mode=options.mode,
            unsure_threshold=options.unsure_threshold,
            unsure_name=options.unsure_name,
        )
        verb = "Moving" if options.mode == "move" else "Copying"
        self._start_file_work(worker, f"{verb} {len(items):,} images into {options.dest}…")
        return True

    def undo_last_move(self) -> bool:
        if not self.last_manifest or self._file_worker is not None or self.runs.running:
            return False
        if not Path(self.last_manifest).is_file():
            self.notify(f"The move record {self.last_manifest} is gone; nothing to undo.", True)
            self._set_manifest(None)
            return False
        self._start_file_work(TaskWorker(undo_task, self.last_manifest), "Putting the files back…")
        return True

    def _start_file_work(self, worker: TaskWorker, text: str) -> None:
        worker.progress.connect(self._on_file_progress)
        worker.finished.connect(self._on_file_done)
        worker.failed.connect(self._on_file_failed)
        self._file_worker = worker
        self._file_thread = start_worker(worker, self)
        self.run_status.setText(text)
        self.progress.setRange(0, 0)
        self._sync_buttons()

    def _on_file_progress(self, done: int, total: int) -> None:
        if total > 0:
            self.progress.setRange(0, total)
            self.progress.setValue(done)

    def _end_file_work(self) -> None:
        self._file_worker = self._file_thread = None
        self.progress.setRange(0, 1)
        self.progress.setValue(1)
        self._sync_buttons()

    def _on_file_done(self, report) -> None:
        self._end_file_work()
        if report is None:
            self.run_status.setText("Stopped.")
            return
        self.last_report = report
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
        self.run_status.setText(text + ".")
        self.notify(text + ".", error=bool(report.errors))
        self._show_detail()

    def _on_file_failed(self, message: str) -> None:
        self._end_file_work()
        self.run_status.setText("Sorting failed.")
        self.notify(message, error=True)

    def _set_manifest(self, path: str | None) -> None:
        self.last_manifest = path
        QSettings().setValue("sort/last_manifest", path or "")
        self._sync_buttons()

    # -- preview and reveal ------------------------------------------------------------------
    def open_preview(self, index=None) -> PreviewDialog | None:
        index = index if index is not None and index.isValid() else self.grid.currentIndex()
        if not index.isValid():
            return None
        row = self.results.row_at(self.view_model.source_row(index.row()))
        if self._preview is not None:
            self._preview.close()
        self._preview = PreviewDialog(row, self)
        self._preview.show()
        return self._preview

    def reveal_selected(self) -> None:
        rows = self.selected_source_rows()
        if rows:
            folder = Path(self.results.row_at(rows[0]).path).parent
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def shutdown_output(self) -> None:
        stop_and_wait(self._file_worker, self._file_thread)
        if self._preview is not None:
            self._preview.close()
