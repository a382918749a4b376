"""Results that know their model: when the model loaded now is another one than the model that
made the results, the rows are marked ``stale`` (dimmed tiles with "other model", a line in
their details, the ``stale`` column of exports) and a bar above the grid offers to classify the
same files and folders again with the loaded model (the person's corrections stay with their
files).

A model's identity hashes its weights: for a model loaded while results are shown, that is
done on a worker thread (a run hashes its own model on its worker, and says so first)."""

from __future__ import annotations

import html
import logging
from collections.abc import Callable

from PySide6.QtCore import QObject
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from ..widgets.actions import make_action
from ..widgets.elided import elide_chars
from ..widgets.model_panel import ModelPanel
from ..widgets.workers import WorkerSlot
from .results_model import ResultsModel
from .run import RunController

log = logging.getLogger(__name__)
AGAIN_TEXT = "Classify again with this model"


def identity_task(loaded, *, should_stop=None, progress=None):
    """Worker body: the model's identity (hashing its weights the first time)."""
    return loaded.identity()


class StaleBar(QFrame):
    """ "These results come from another model" and the button that classifies them again."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("staleBar")
        self.text = QLabel(wordWrap=True)
        self.button = QPushButton(AGAIN_TEXT)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(10, 4, 4, 4)
        lay.addWidget(self.text, 1)
        lay.addWidget(self.button)
        self.setVisible(False)


class StaleResultsController(QObject):
    """Knows which model the results come from and which is loaded now; marks the rows and
    offers to classify again when they differ."""

    def __init__(
        self,
        host: QWidget,
        bar: StaleBar,
        results: ResultsModel,
        runs: RunController,
        model_panel: ModelPanel,
        notify: Callable[..., None],
    ) -> None:
        super().__init__(host)
        self.bar, self.results, self.runs = bar, results, runs
        self.model_panel, self.notify = model_panel, notify
        self.current = None  # the ModelIdentity of the model loaded now, once known
        self.identifying = WorkerSlot(
            self, on_finished=self._on_identified, on_failed=self._on_identify_failed
        )
        self._identifying = None  # the LoadedModel being identified
        self.act_again = make_action(
            host, AGAIN_TEXT, self.classify_again, QKeySequence("Ctrl+R"), False
        )
        self.act_again.setToolTip("Classify the same files and folders with the loaded model")
        bar.button.clicked.connect(self.classify_again)
        model_panel.model_loaded.connect(self._on_model_loaded)
        runs.identified.connect(self._on_run_identified)
        runs.started.connect(self.sync)
        runs.finished.connect(self.sync)
        runs.failed.connect(self.sync)
        results.stale_changed.connect(self.sync)

    # -- which model is which ---------------------------------------------------------------
    def _on_model_loaded(self, loaded) -> None:
        """Another model is loaded: compare it with the results' model, off the GUI thread.
        With no results (or a run of this very model about to say), there is nothing to do."""
        self.current = None
        run_of_it = self.runs.loaded is loaded and self.results.run_model is None
        if run_of_it or (self.results.rowCount() == 0 and not self.runs.running):
            self.identifying.discard()
            return
        self._identifying = loaded
        self.identifying.start(identity_task, loaded)

    def _on_identified(self, identity) -> None:
        if self._identifying is self.model_panel.loaded:
            self._set_current(identity)

    def _on_identify_failed(self, message: str) -> None:
        log.warning("could not identify the loaded model: %s", message)

    def _on_run_identified(self, identity) -> None:
        """A run says which model makes it: the loaded one, unless another came meanwhile."""
        if self.runs.loaded is self.model_panel.loaded:
            self.identifying.discard()
            self._set_current(identity)

    def _set_current(self, identity) -> None:
        self.current = identity
        self.results.set_current_model(identity)

    def stale_model(self) -> str | None:
        """For a person: the model the results come from, when it is not the loaded one."""
        model = self.results.run_model
        return model.short() if model is not None and self.results.stale_count() else None

    # -- classifying again --------------------------------------------------------------------
    def can_classify_again(self) -> bool:
        return self.model_panel.loaded is not None and bool(self.runs.sources)

    def classify_again(self) -> bool:
        """Classify the files and folders of the results again with the loaded model (a run
        going is replaced); the person's corrections stay with their files."""
        if not self.can_classify_again():
            return False
        mp = self.model_panel
        self.runs.start(mp.loaded, list(self.runs.sources), mp.run_options(), keep_corrections=True)
        return True

    def sync(self, *_args) -> None:
        """The bar shows while some results come from another model."""
        stale = self.results.stale_count()
        self.act_again.setEnabled(self.can_classify_again() and self.results.rowCount() > 0)
        self.bar.button.setEnabled(self.can_classify_again())
        if not stale:
            self.bar.setVisible(False)
            return
        old, new = self.results.run_model, self.current
        who = _name(old, new) if old is not None else "another model"
        now = _name(new, old) if new is not None else "the loaded model"
        self.bar.text.setText(
            f"<b>{stale:,} results come from {html.escape(who)}</b>, not from "
            f"{html.escape(now)}, the model loaded now."
        )
        self.bar.setVisible(True)

    def shutdown(self) -> None:
        self.identifying.shutdown()


def _name(model, other) -> str:
    """``model`` for a person, short: without its architecture when ``other`` has the same
    (the file and the weights are what differ)."""
    text = elide_chars(model.short(), 48)  # (a long file name: one word the bar cannot wrap)
    if other is not None and other.arch == model.arch:
        text = text.removeprefix(f"{model.arch} · ")
    return text
