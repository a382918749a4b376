"""Output for the Classify tab: export CSV/JSON (all results, the ones shown, or the selected
ones), sort into folders (copy or move, each undoable: the banner after it offers Undo), and
the menu/shortcut actions for them.
(Labelling, the preview and the tiles' context menu are :mod:`gui.classify.triage`'s.)

:class:`OutputController` gets what it works on in its constructor (the results and the view
of them, the tab's widgets, the run controller, a ``notify`` callable) and asks its questions
through :class:`OutputQuestions`, so tests can answer them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QSettings
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QWidget

from ...core.errors import PigeonholeError
from ...core.results.sorting import UNDO_COPY
from ..file_tasks import undo_task
from ..widgets.actions import make_action
from ..widgets.thumbnails import ThumbnailCache
from ..widgets.workers import WorkerSlot
from .layout import ClassifyLayout
from .results_filter import ResultsView
from .results_model import ResultsModel
from .run import RunController
from .sort_dialog import ALL, SELECTED, SHOWN, SortOptions

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class OutputQuestions:
    """The questions the output controller asks the person (the tab answers through its
    ``_ask_*`` hooks, which tests replace)."""

    save_path: Callable[[], str | None]
    sort_options: Callable[[dict[str, int]], SortOptions | None]
    export_scope: Callable[[dict[str, int]], str | None]


class OutputController(QObject):
    """Export, sorting into folders (one file operation at a time, on a worker thread) and its
    undo, for the results of the Classify tab."""

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
        selected_rows: Callable[[], list[int]],
    ) -> None:
        super().__init__(host)
        self.host, self.ui, self.results, self.view_model = host, ui, results, view_model
        self.cache, self.runs, self.notify, self.questions = cache, runs, notify, questions
        self.selected_source_rows = selected_rows
        self.last_manifest: str | None = (
            QSettings().value("sort/last_manifest", "", type=str) or None
        )
        self.last_mode = QSettings().value("sort/last_mode", "move", type=str)  # or "copy"
        self.file_work = WorkerSlot(
            self,
            on_progress=self._on_file_progress,
            on_finished=self._on_file_done,
            on_failed=self._on_file_failed,
        )

        def action(text, slot, shortcut=None, enabled=False) -> QAction:
            return make_action(host, text, slot, shortcut, enabled)

        self.act_export = action("&Export results…", self.export_results, QKeySequence("Ctrl+E"))
        self.act_sort = action(
            "&Sort into folders…", self.sort_results, QKeySequence("Ctrl+Shift+S")
        )
        self.act_undo = action(
            "&Undo last sort", self.undo_last_move, None, self.last_manifest is not None
        )
        self.file_actions = (self.act_export, self.act_sort, self.act_undo)
        ui.export_button.clicked.connect(self.export_results)
        ui.sort_button.clicked.connect(self.sort_results)
        ui.undo_button.clicked.connect(self.undo_last_move)
        self.sync()

    @property
    def busy(self) -> bool:
        """Files are being copied, moved or put back."""
        return self.file_work.busy

    def sync(self) -> None:
        """Enable what can be done now (results, a run going, a file operation, a selection)."""
        ui = self.ui
        has = self.results.rowCount() > 0
        running = self.runs.running
        ui.export_button.setEnabled(has)
        self.act_export.setEnabled(has)
        ui.sort_button.setEnabled(has and not running and not self.busy)
        self.act_sort.setEnabled(ui.sort_button.isEnabled())
        can_undo = self.last_manifest is not None and not self.busy and not running
        ui.undo_button.setEnabled(can_undo)
        ui.undo_button.setVisible(can_undo)  # only while there is a copy or move to undo
        what = "copy" if self.last_mode == "copy" else "move"
        ui.undo_button.setText(f"Undo {what}")
        self.act_undo.setText(f"&Undo last {what}")
        self.act_undo.setEnabled(can_undo)

    # -- selection ---------------------------------------------------------------------------
    def shown_source_rows(self) -> list[int]:
        """The tiles the filters show, as rows of the results model."""
        return self.view_model.source_rows()

    # -- export ------------------------------------------------------------------------------
    def scope_rows(self) -> dict[str, list[int]]:
        """Rows of the results model per scope: all, the ones the filters show, the selected."""
        return {
            ALL: list(range(self.results.rowCount())),
            SHOWN: self.shown_source_rows(),
            SELECTED: self.selected_source_rows(),
        }

    def export_results(self, path: str | None = None, scope: str | None = None) -> bool:
        """Write the results of ``scope`` (all, shown, selected) to ``path``: the model's
        prediction and the person's correction apart, the folder's class (evaluation mode),
        the model that made each and whether it is another than the one loaded now (JSON:
        with the evaluation, for all results). Without a scope: all, unless a filter hides
        some or several images are selected; then the person is asked."""
        from ...core.fileio import check_output_file
        from ...core.results.writing import FORMATS, ExportRow, write_results

        scopes = self.scope_rows()
        counts = {k: len(v) for k, v in scopes.items()}
        if scope is None:
            askable = counts[SHOWN] != counts[ALL] or counts[SELECTED] > 1
            scope = self.questions.export_scope(counts) if askable else ALL
            if scope is None:
                return False
        path = path or self.questions.save_path()
        if not path:
            return False
        rows = [self.results.row_at(i) for i in scopes[scope]]
        report = self.results.evaluation() if scope == ALL else None
        try:
            check_output_file(path, "Not exported", FORMATS)  # the command line's check
            write_results(
                path,
                [
                    ExportRow(r.pred, r.corrected, r.truth, r.model and r.model.key, r.stale)
                    for r in rows
                ],
                summary=self.runs.summary,
                topk=5,  # core writes only as many as the model has classes
                extra={"evaluation": report.to_dict()} if report is not None else None,
            )
        except PigeonholeError as e:
            self.notify(str(e), error=True)
            return False
        except (OSError, ValueError) as e:
            self.notify(f"Could not write {path}: {e}", error=True)
            return False
        QSettings().setValue("classify/export_path", str(path))
        self.notify(f"Exported {len(rows):,} results to {path}.")
        return True

    # -- sorting into folders ----------------------------------------------------------------
    def sort_results(self, options: SortOptions | None = None) -> bool:
        """Copy or move the images into class folders (asking how, without ``options``)."""
        from ...core.results.sorting import SortItem, sort_into_folders

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
            # A person's label is never "unsure" (the model's confidence was for another class).
            sure = r.corrected is not None
            items.append(SortItem(r.path, r.label, None if sure else r.pred.confidence))
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
        """Undo the last sort: put the files of a move back where they were, or remove the
        copies a copy made."""
        if not self.last_manifest or self.busy or self.runs.running:
            return False
        if not Path(self.last_manifest).is_file():
            self.notify(f"The sort's record {self.last_manifest} is gone; nothing to undo.", True)
            self._set_manifest(None)
            return False
        self.file_work.start(undo_task, self.last_manifest)
        copy = self.last_mode == "copy"
        self._file_work_started("Removing the copies…" if copy else "Putting the files back…")
        return True

    def _file_work_started(self, text: str) -> None:
        self.ui.run_status.setText(text)
        self.ui.show_running(True)
        self.ui.progress.setRange(0, 0)
        self.sync()

    def _on_file_progress(self, done: int, total: int) -> None:
        if total > 0:
            self.ui.progress.setRange(0, total)
            self.ui.progress.setValue(done)

    def _file_work_ended(self) -> None:
        self.ui.show_running(self.runs.running)
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
        offer = None
        if report.mode in ("copy", "move") and report.manifest is not None:
            self._set_manifest(str(report.manifest), report.mode)
            offer = ("Undo", self.undo_last_move)
        elif report.mode in ("undo", UNDO_COPY) and not report.errors:
            self._set_manifest(None)
        text = report.line()[:1].upper() + report.line()[1:]
        if report.errors:
            text += ": " + "; ".join(report.errors[:3])
        self.ui.run_status.setText(text + ".")
        self.notify(text + ".", error=bool(report.errors), action=offer)

    def _on_file_failed(self, message: str) -> None:
        self._file_work_ended()
        self.ui.run_status.setText("Sorting failed.")
        self.notify(message, error=True)

    def _set_manifest(self, path: str | None, mode: str = "move") -> None:
        self.last_manifest, self.last_mode = path, mode
        QSettings().setValue("sort/last_manifest", path or "")
        QSettings().setValue("sort/last_mode", mode)
        self.sync()

    def shutdown(self) -> None:
        """Wait for a file operation to end (window closing)."""
        self.file_work.shutdown()
