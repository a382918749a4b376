"""Evaluation mode in the Classify tab: when the dropped folders (or their parents) are named
like the model's classes, how often the model agrees with them, per class, and where it goes
wrong (the Train tab's per-class table and confusion matrix, reused), with a way to see only
the images whose label disagrees with their folder.

The figures are core.results.evaluation's, counted as the rows arrive (ResultsModel keeps the tally):
the same numbers `pigeonhole predict --evaluate` prints for the same folder and model. They
are the model's own labels; the person's corrections are not counted in them, but a corrected
label that matches its folder no longer shows as a disagreement on its tile.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QLabel, QPushButton, QSplitter, QVBoxLayout, QWidget

from ..widgets.confusion import ConfusionMatrixView
from ..widgets.side_panes import SidePanes
from ..widgets.tables import fill_metrics_table, read_only_table
from .filter_panel import FilterPanel
from .results_model import ResultsModel
from .run import RunController

if TYPE_CHECKING:  # (imported by a run: the window opens without it)
    from ...core.results.evaluation import EvaluationReport

PANE = "Evaluation"  # the side pane's title
MAX_MATRIX = 30  # classes drawn in the confusion matrix at most (the table lists them all)
REFRESH_MS = 1000  # during a run, the figures follow at most this often
MAX_TABLE_ROWS = 8  # the per-class table grows to this many rows, then scrolls
# The Train tab's per-class columns, with titles short enough for a side pane on a laptop.
HEADERS = (
    ("Class", "The folder's class"),
    ("Prec.", "Precision: of the images the model gave this label, the share in its folder"),
    ("Recall", "Recall: of the images in this class's folder, the share the model labelled so"),
    ("F1", "F1: the harmonic mean of precision and recall"),
    ("#", "Images in this class's folder"),
)


def involved_classes(report: EvaluationReport) -> list[int]:
    """The classes that occur among the evaluated images, as truth or as the model's label
    (a 1,000-class model evaluated on two folders shows two or three rows, not 1,000)."""
    cm = report.metrics.confusion
    said = [sum(column) for column in zip(*cm, strict=True)] if cm else []
    return [i for i, row in enumerate(cm) if sum(row) or said[i]]


class EvaluationPanel(QWidget):
    """Accuracy, the per-class table and the confusion matrix of one evaluation; above them,
    when a training folder is known, the evaluated images that are copies of training images
    (gui.classify.leaks fills it)."""

    show_disagreements = Signal()
    show_leaks = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.leak_line = QLabel("", wordWrap=True, textFormat=Qt.TextFormat.RichText)
        self.leak_line.setVisible(False)
        self.leaks_button = QPushButton("Show the leaked images")
        self.leaks_button.setToolTip("Only the images that are copies of training images")
        self.leaks_button.clicked.connect(self.show_leaks)
        self.leaks_button.setVisible(False)
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.disagreements_button = QPushButton("Show the disagreements")
        self.disagreements_button.clicked.connect(self.show_disagreements)
        self.table = read_only_table([title for title, _tip in HEADERS])
        for k, (_title, tip) in enumerate(HEADERS):
            self.table.horizontalHeaderItem(k).setToolTip(tip)
        self.confusion = ConfusionMatrixView(empty_text="No confusion matrix")
        self.confusion.setMinimumSize(160, 140)
        self.note = QLabel(
            "The model's own labels against the folders' names; your corrections are not "
            "counted here."
        )
        self.note.setObjectName("hint")
        self.note.setWordWrap(True)
        split = QSplitter(Qt.Orientation.Vertical)
        split.setChildrenCollapsible(False)
        split.addWidget(self.table)
        split.addWidget(self.confusion)
        self.table.setMinimumHeight(60)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.leak_line)
        lay.addWidget(self.leaks_button)
        lay.addWidget(self.summary)
        lay.addWidget(self.disagreements_button)
        lay.addWidget(split, 1)
        lay.addWidget(self.note)
        self.report: EvaluationReport | None = None

    def show_report(
        self,
        report: EvaluationReport,
        stale_model: str | None = None,
        with_corrections: int | None = None,
    ) -> None:
        """Show ``report``; ``stale_model``: the model the figures are for, when it is not the
        one loaded now; ``with_corrections``: the disagreements counting the person's labels
        (what the filter shows), said when they differ from the model's."""
        self.report = report
        wrong = len(report.disagreements)
        yours = (
            f" ({with_corrections:,} counting your corrections)"
            if with_corrections is not None and with_corrections != wrong
            else ""
        )
        without = (
            f"; {report.without_truth:,} more in folders named like no class"
            if report.without_truth
            else ""
        )
        lines = [
            f"<b style='font-size:15px'>Accuracy {report.accuracy:.1%}</b> on "
            f"{report.with_truth:,} images in class-named folders{without}.",
            f"<span style='color:{'#b91c1c' if wrong else '#15803d'}'>"
            f"{wrong:,} disagree with their folder{yours}.</span>",
        ]
        if stale_model:
            lines.append(
                f"<span style='color:#b45309'><b>For {html.escape(stale_model)}</b>, not the "
                "model loaded now.</span>"
            )
        self.summary.setText("<br>".join(lines))
        self.disagreements_button.setEnabled(wrong > 0 or bool(with_corrections))
        classes = involved_classes(report)
        per_class = report.metrics.per_class
        fill_metrics_table(self.table, [per_class[i] for i in classes])
        self._fit_table(len(classes))
        if len(classes) <= MAX_MATRIX:
            cm = report.metrics.confusion
            self.confusion.set_matrix(
                [[cm[i][j] for j in classes] for i in classes],
                [per_class[i].name for i in classes],
            )
            self.confusion.setVisible(True)
        else:
            self.confusion.set_matrix([], [])
            self.confusion.setVisible(False)

    def set_leaks(self, text: str, leaked: int = 0) -> None:
        """The line about leaks ("" hides it); the button shows ``leaked`` images."""
        self.leak_line.setText(text)
        self.leak_line.setVisible(bool(text))
        self.leaks_button.setVisible(leaked > 0)
        self.leaks_button.setText(
            "Show the leaked image" if leaked == 1 else f"Show the {leaked:,} leaked images"
        )

    def _fit_table(self, rows: int) -> None:
        """As high as its rows (up to MAX_TABLE_ROWS): the confusion matrix gets the rest."""
        t = self.table
        shown = min(rows, MAX_TABLE_ROWS)
        height = t.horizontalHeader().sizeHint().height() + 2 * t.frameWidth()
        height += (
            sum(t.rowHeight(r) for r in range(shown)) or t.verticalHeader().defaultSectionSize()
        )
        scroll = t.horizontalScrollBar()
        if scroll.isVisible():
            height += scroll.sizeHint().height()
        t.setMaximumHeight(height)


class EvaluationController(QObject):
    """Keeps the Evaluation pane, the disagreement filter and their counts in step with the
    results: shown while some result has a ground truth, hidden otherwise."""

    def __init__(
        self,
        results: ResultsModel,
        runs: RunController,
        panel: EvaluationPanel,
        panes: SidePanes,
        filters: FilterPanel,
        stale_model: Callable[[], str | None],
        parent=None,
    ):
        super().__init__(parent)
        self.results, self.runs, self.panel, self.panes = results, runs, panel, panes
        self.filters, self.stale_model = filters, stale_model
        self._timer = QTimer(self, singleShot=True, interval=REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        self._shown_for_run = False
        runs.batch_added.connect(self._soon)
        runs.finished.connect(self._on_run_finished)
        results.corrections_changed.connect(self._soon)
        results.stale_changed.connect(self._soon)
        results.modelReset.connect(self.refresh)
        panel.show_disagreements.connect(lambda: filters.disagreements_only.setChecked(True))
        panes.set_pane_visible(PANE, False)
        filters.set_disagreements(None)

    @property
    def report(self) -> EvaluationReport | None:
        return self.panel.report if self.panes.pane_visible(PANE) else None

    def _soon(self, *_args) -> None:
        if not self._timer.isActive():
            self._timer.start(REFRESH_MS if self.runs.running else 0)

    def _on_run_finished(self, _summary) -> None:
        self._timer.stop()
        self.refresh()

    def refresh(self) -> None:
        """Show the evaluation so far (or hide it: no result has a ground truth)."""
        report = self.results.evaluation()
        if report is None:
            self.panel.report = None
            self.panes.set_pane_visible(PANE, False)
            self.filters.set_disagreements(None)
            self._shown_for_run = False
            return
        shown = self.results.disagreement_count()  # with the person's labels: the filter's
        self.panel.show_report(report, self.stale_model(), shown)
        self.filters.set_disagreements(shown)
        if not self.panes.pane_visible(PANE):
            self.panes.set_pane_visible(PANE, True)
        if not self._shown_for_run:  # brought forward once per run (a tab on a laptop)
            self.panes.bring_forward(PANE)
            self._shown_for_run = True
