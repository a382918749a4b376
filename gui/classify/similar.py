""" "Find similar" on a tile: the grid shows that image's nearest images, most similar first,
by cosine similarity of the embeddings the run kept (core.insight.similarity), with "Similar
to NAME · Show all" in the filter bar until the person goes back to the whole set.

:class:`SimilarImages` also keeps the results' embedding indexes, which the map
(gui.classify.map_view) projects: one per model the rows come from (vectors of two networks
cannot be compared, and may not even have the same length), emptied with the results. They are
filled lazily, on the first "Find similar" or map: the rows already hold each embedding
(float16), and a run nobody searches should not pay for a float32 copy of them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QItemSelectionModel, QObject
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QWidget

from ...core.insight.similarity import EmbeddingIndex
from ..widgets.actions import make_action
from ..widgets.elided import elide_chars
from .layout import ClassifyLayout
from .results_filter import ResultsView
from .results_model import ResultsModel
from .triage import TriageController

log = logging.getLogger(__name__)

NEAREST = 100  # images shown besides the one asked about
FIND_TEXT = "Find &similar"
SIMILARITY_ORDER = "Similarity"  # what the sort box says while the grid shows them
NO_EMBEDDINGS = (
    "These results have no embeddings (the vector the network's last layer sees), so images "
    "cannot be compared: classify the images again to find similar ones."
)


def model_key(model) -> str | None:
    """The key of the model that made a row (its ModelIdentity; None: not known)."""
    return model.key if model is not None else None


class SimilarImages(QObject):
    """The "Find similar" action (S, and the tiles' context menu) and the results' embedding
    index."""

    def __init__(
        self,
        host: QWidget,
        ui: ClassifyLayout,
        results: ResultsModel,
        view_model: ResultsView,
        triage: TriageController,
        notify: Callable[..., None],
    ) -> None:
        super().__init__(host)
        self.ui, self.results, self.view_model, self.notify = ui, results, view_model, notify
        self.indexes: dict[str | None, EmbeddingIndex] = {}  # by the key of the rows' model
        self._seen = 0  # result rows looked at for embeddings so far
        self.action = make_action(host, FIND_TEXT, self.find_similar, QKeySequence("S"), False)
        triage.triage_actions = (*triage.triage_actions, self.action)  # (its context menu)
        results.modelReset.connect(self._reset)
        results.rowsInserted.connect(self.sync)
        ui.grid.selectionModel().currentChanged.connect(self.sync)
        self.sync()

    def _reset(self) -> None:
        self.indexes, self._seen = {}, 0
        self.sync()

    def catch_up(self, source_row: int | None = None) -> EmbeddingIndex:
        """The index of the model that made ``source_row`` (by default the model of the
        latest run: the one whose rows the map shows), with the embeddings of the rows that
        arrived since last asked."""
        rows = self.results.rows
        by_model: dict[str | None, list[int]] = {}
        for i in range(self._seen, len(rows)):
            if rows[i].pred.embedding is not None:
                by_model.setdefault(model_key(rows[i].model), []).append(i)
        self._seen = len(rows)
        for key, new in by_model.items():
            index = self.indexes.setdefault(key, EmbeddingIndex())
            try:
                index.add(new, [rows[i].pred.embedding for i in new])
            except ValueError as e:  # (one model, two lengths: a network changed under us)
                log.warning("embeddings left out of the index: %s", e)
        model = self.results.run_model if source_row is None else rows[source_row].model
        return self.indexes.get(model_key(model)) or EmbeddingIndex()

    def indexed(self) -> int:
        """How many images the indexes hold, all models together (0 before the first use)."""
        return sum(len(index) for index in self.indexes.values())

    def current_source_row(self) -> int | None:
        idx = self.ui.grid.currentIndex()
        return self.view_model.source_row(idx.row()) if idx.isValid() else None

    def why_not(self, source_row: int | None) -> str:
        """Why images like ``source_row`` cannot be shown ("" when they can)."""
        if self.results.rowCount() == 0:
            return "Classify some images first."
        if source_row is None:
            return "Select an image to find the ones like it."
        row = self.results.row_at(source_row)
        if row.pred.embedding is None:
            return "This image could not be read." if not row.ok else NO_EMBEDDINGS
        return ""

    def sync(self, *_args) -> None:
        why = self.why_not(self.current_source_row())
        self.action.setEnabled(not why)
        self.action.setToolTip(why or "Show the images most like this one, most similar first (S)")

    def find_similar(self, source_row: int | None = None) -> list[int]:
        """Show the image at ``source_row`` (the current tile, without it) and its nearest
        images in the grid, most similar first; returns their rows ([] when it cannot)."""
        source_row = self.current_source_row() if source_row is None else source_row
        why = self.why_not(source_row)
        if why:
            self.notify(why)
            return []
        index = self.catch_up(source_row)
        if source_row not in index:  # (its embedding did not match the others')
            self.notify(NO_EMBEDDINGS, warning=True)
            return []
        rows = [n.key for n in index.nearest(source_row, NEAREST + 1)]  # (itself first)
        name = elide_chars(self.results.row_at(source_row).name, 40)
        self.view_model.pin(rows, f"Similar to {name}", SIMILARITY_ORDER)
        grid = self.ui.grid
        first = grid.model().index(0, 0)
        grid.selectionModel().setCurrentIndex(
            first, QItemSelectionModel.SelectionFlag.ClearAndSelect
        )
        grid.scrollToTop()
        return rows
