"""What makes the Classify tab's labels trustworthy, composed in one place for the tab to wire:
results marked when another model is loaded (:mod:`.stale`), evaluation on class-named folders
(:mod:`.evaluation_view`) and its leaks (:mod:`.leaks`), corrections copied into a training set (:mod:`.training_set`), and
the model's warnings (a model that cannot tell its classes apart), said once when a run ends.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

from .evaluation_view import EvaluationController
from .layout import ClassifyLayout
from .leaks import LeakCheck
from .results_filter import ResultsView
from .results_model import ResultsModel
from .run import RunController
from .stale import StaleResultsController
from .training_set import TrainingSetController


class ResultsTrust(QObject):
    """The stale-results, evaluation and training-set controllers, and the run's warnings."""

    retrain_requested = Signal(str)  # train a new model on this folder (the Train tab)

    def __init__(
        self,
        host: QWidget,
        ui: ClassifyLayout,
        results: ResultsModel,
        runs: RunController,
        view_model: ResultsView,
        notify: Callable[..., None],
    ) -> None:
        super().__init__(host)
        self.runs, self.notify = runs, notify
        self.stale = StaleResultsController(
            host, ui.stale_bar, results, runs, ui.model_panel, notify
        )
        self.evaluation = EvaluationController(
            results, runs, ui.evaluation, ui.side, ui.filters, self.stale.stale_model, self
        )
        self.training_set = TrainingSetController(host, results, notify)
        self.training_set.retrain_requested.connect(self.retrain_requested)
        self.leaks = LeakCheck(host, results, view_model, runs, ui.evaluation, ui.side, notify)
        runs.finished.connect(self._say_warnings)
        self.actions = (self.stale.act_again, self.training_set.act_add, self.leaks.action)

    def _say_warnings(self, _summary) -> None:
        """Once, when a run (with those queued behind it) ends: what the model's outputs
        showed (core.results.predictions.OutputCheck), in the warning colour until closed."""
        if self.runs.warnings:
            self.notify("Warning: " + " ".join(self.runs.warnings), warning=True)

    def shutdown(self) -> None:
        self.leaks.shutdown()
        self.stale.shutdown()
        self.training_set.shutdown()
