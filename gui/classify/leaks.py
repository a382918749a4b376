"""Leaks in the Evaluation pane: when results are evaluated against class-named folders and a
training folder is known (the Train tab's, handed over by the main window, or one the person
picks with "Check for leaks against a folder…"), both are hashed on a worker and the pane says
"N leaked (copies of training images) · accuracy without them X %" above the accuracy, with a
button that shows the leaked images in the grid. The work is core.insight.leaks.check_leaks,
the same as `pigeonhole predict --evaluate --leaks FOLDER`."""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QSettings
from PySide6.QtWidgets import QFileDialog, QWidget

from ...core.insight.leaks import LeakReport, check_leaks
from ..widgets.actions import make_action
from ..widgets.side_panes import SidePanes
from ..widgets.workers import WorkerSlot
from .evaluation_view import PANE, EvaluationPanel
from .results_filter import ResultsView
from .results_model import ResultsModel
from .run import RunController

LEAK_COLOUR, CLEAN_COLOUR = "#b45309", "#15803d"


class LeakCheck(QObject):
    """Looks for copies of training images among evaluated results once a run ends (or when
    asked), and keeps the Evaluation pane's leak line."""

    def __init__(
        self,
        host: QWidget,
        results: ResultsModel,
        view_model: ResultsView,
        runs: RunController,
        panel: EvaluationPanel,
        panes: SidePanes,
        notify: Callable[..., None],
    ) -> None:
        super().__init__(host)
        self.host, self.results, self.view_model, self.runs = host, results, view_model, runs
        self.panel, self.panes, self.notify = panel, panes, notify
        self.training_folder = ""  # the Train tab's data folder ("" none)
        self.report: LeakReport | None = None
        self.ask_folder: Callable[[], str] = self._ask_folder  # (tests replace it)
        self._slot = WorkerSlot(
            self,
            on_progress=self._on_progress,
            on_finished=self._on_finished,
            on_failed=self._on_failed,
        )
        self.action = make_action(
            host, "Check for &leaks against a folder…", self.check_against_chosen, None, False
        )
        self.action.setToolTip(
            "Find the evaluated images that are copies of images in a training folder"
        )
        runs.started.connect(self.sync)
        runs.finished.connect(self._on_run_finished)
        results.modelReset.connect(self.clear)
        panel.show_leaks.connect(self.show_leaked)

    def sync(self, *_args) -> None:
        self.action.setEnabled(self.results.rowCount() > 0 and not self.runs.running)

    def set_training_folder(self, folder: str) -> None:
        """The training folder to check evaluations against (checked now when results wait)."""
        changed = folder != self.training_folder
        self.training_folder = folder
        if changed and folder and not self.runs.running and self.results.evaluation():
            self.check(folder)

    def _on_run_finished(self, _summary) -> None:
        self.sync()
        if self.training_folder and self.results.evaluation() is not None:
            self.check(self.training_folder)

    def _ask_folder(self) -> str:
        start = self.training_folder or QSettings().value("classify/last_folder", "", type=str)
        return QFileDialog.getExistingDirectory(self.host, "Training folder to compare", start)

    def check_against_chosen(self) -> bool:
        folder = self.ask_folder()
        return bool(folder) and self.check(folder)

    def check(self, folder: str) -> bool:
        """Hash the evaluated results and ``folder`` on a worker (a check still going is
        replaced); the pane shows the progress, then the leaks."""
        evaluation = self.results.evaluation()
        if evaluation is None or self.runs.running:
            self.notify(
                "Leaks are looked for among results from class-named folders (one sub-folder "
                "per class) once the run is done."
            )
            return False
        evaluated = [(r.path, r.pred.label if r.ok else None, r.truth) for r in self.results.rows]
        names = [c.name for c in evaluation.metrics.per_class]
        self.folder, self.report = folder, None
        self.panel.set_leaks(f"Looking for copies of the training images in {self._name()}…")
        self._slot.start(check_leaks, evaluated, names, folder)
        return True

    def _name(self) -> str:
        return f"<b>{html.escape(Path(self.folder).name or self.folder)}</b>"

    def _on_progress(self, done: int, total: int) -> None:
        self.panel.set_leaks(
            f"Looking for copies of the training images in {self._name()}: "
            f"{done:,} of {total:,} images read…"
        )

    def _on_finished(self, report: LeakReport | None) -> None:
        self.report = report
        if report is None:
            self.panel.set_leaks("")
            return
        self.panel.set_leaks(leak_text(report, self._name()), len(report.leaks))
        if report.leaks:
            self.panes.bring_forward(PANE)

    def _on_failed(self, message: str) -> None:
        self.panel.set_leaks("")
        self.notify(f"Could not check for leaks: {message}", error=True)

    def show_leaked(self) -> list[int]:
        """Show the leaked images in the grid (their copies' order); returns their rows."""
        if self.report is None:
            return []
        leaked = self.report.paths
        rows = [i for i, r in enumerate(self.results.rows) if r.path in leaked]
        self.view_model.pin(rows, f"Leaked: copies of images in {Path(self.folder).name}")
        return rows

    def clear(self) -> None:
        self._slot.discard()
        self.report = None
        self.panel.set_leaks("")
        self.sync()

    def shutdown(self) -> None:
        self._slot.shutdown()


def leak_text(report: LeakReport, folder: str) -> str:
    """The pane's line: how many evaluated images the training folder holds copies of, and the
    accuracy without them."""
    n = len(report.leaks)
    if not n:
        return (
            f"<span style='color:{CLEAN_COLOUR}'>No copies of training images: none of "
            f"{report.checked:,} images is in {folder} ({report.training:,} images).</span>"
        )
    counts = ((report.exact, "exact"), (n - report.exact, "edited"))
    kinds = ", ".join(f"{k:,} {what}" for k, what in counts if k)
    without = report.without
    honest = (
        f"accuracy without them <b>{without.accuracy:.1%}</b> on {without.with_truth:,} images"
        if without is not None
        else "no image left to count without them"
    )
    return (
        f"<span style='color:{LEAK_COLOUR}'><b>{n:,} leaked</b> (copies of training images "
        f"in {folder}: {kinds}) · {honest}</span>"
    )
