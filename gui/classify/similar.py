""" "Find similar" on a tile: the grid shows that image's nearest images, most similar first,
by cosine similarity of the embeddings the run kept (core.insight.similarity), with "Similar
to NAME · Show all" in the filter bar until the person goes back to the whole set.

:class:`SimilarImages` also keeps the results' embedding indexes, which the map
(gui.classify.map_view) projects: one per model the rows come from (vectors of two networks
cannot be compared, and may not even have the same length), emptied with the results. They are
filled lazily, on the first "Find similar" or map: the rows already hold each embedding
(float16), and a run nobody searches should not pay for a float32 copy of them. Filling them
takes ~8 us a row (0.4 s at 50,000), so more than :data:`INLINE_ROWS` new rows are indexed on a
worker while the banner says so, and the search (~5 ms) runs when it ends; a few new rows are
indexed in the GUI thread at once. While a worker fills them the GUI thread leaves the indexes
alone: every request waits for that build (:meth:`SimilarImages.ready`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from PySide6.QtCore import QItemSelectionModel, QObject
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QWidget

from ...core.errors import Cancelled
from ...core.insight.similarity import EmbeddingIndex
from ..widgets.actions import make_action
from ..widgets.elided import elide_chars
from ..widgets.workers import WorkerSlot
from .layout import ClassifyLayout
from .results_filter import ResultsView
from .results_model import ResultsModel
from .triage import TriageController

log = logging.getLogger(__name__)

NEAREST = 100  # images shown besides the one asked about
INLINE_ROWS = 2_000  # new rows indexed in the GUI thread (~16 ms); more go to a worker
BLOCK = 4_096  # rows a worker indexes between looks at its stop flag
FIND_TEXT = "Find &similar"
SIMILARITY_ORDER = "Similarity"  # what the sort box says while the grid shows them
NO_EMBEDDINGS = (
    "These results have no embeddings (the vector the network's last layer sees), so images "
    "cannot be compared: classify the images again to find similar ones."
)


def model_key(model) -> str | None:
    """The key of the model that made a row (its ModelIdentity; None: not known)."""
    return model.key if model is not None else None


def index_rows(
    rows: Sequence, first: int, indexes: dict, should_stop=None, progress=None
) -> dict[str | None, EmbeddingIndex]:
    """File the embeddings of ``rows`` (result rows ``first``, ``first + 1``...) in
    ``indexes`` (by the key of each row's model; new ones made as needed), block by block;
    returns ``indexes``. A worker's job when the rows are many: see the module's note."""
    by_model: dict[str | None, list[int]] = {}
    for i, row in enumerate(rows):
        if row.pred.embedding is not None:
            by_model.setdefault(model_key(row.model), []).append(i)
    for key, new in by_model.items():
        index = indexes.setdefault(key, EmbeddingIndex())
        for start in range(0, len(new), BLOCK):
            if should_stop is not None and should_stop.is_set():
                raise Cancelled("indexing stopped")
            part = new[start : start + BLOCK]
            try:
                index.add([first + i for i in part], [rows[i].pred.embedding for i in part])
            except ValueError as e:  # (one model, two lengths: a network changed under us)
                log.warning("embeddings left out of the index: %s", e)
    return indexes


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
        self._building_to = 0  # the rows the worker's build will have looked at
        self._waiting: dict[str, Callable[[], None]] = {}  # run when the build ends, by asker
        self.builder = WorkerSlot(self, on_finished=self._on_indexed, on_failed=self._on_failed)
        self.action = make_action(host, FIND_TEXT, self.find_similar, QKeySequence("S"), False)
        triage.triage_actions = (*triage.triage_actions, self.action)  # (its context menu)
        results.modelReset.connect(self._reset)
        results.rowsInserted.connect(self.sync)
        ui.grid.selectionModel().currentChanged.connect(self.sync)
        self.sync()

    def _reset(self) -> None:
        self.builder.discard()  # (its rows are gone)
        self.indexes, self._seen, self._waiting = {}, 0, {}
        self.sync()

    def backlog(self) -> int:
        """Result rows not yet indexed (those a build under way will index included)."""
        return self.results.rowCount() - self._seen

    def ready(self, asker: str, then: Callable[[], None]) -> bool:
        """Whether the indexes hold every result row now (a few new rows are indexed at once,
        in this thread). If not, a worker indexes them and ``then`` runs when it ends: the
        latest ``then`` of each ``asker``, so a second request waits for the same build."""
        if not self.builder.busy:
            rows = self.results.rows
            if len(rows) - self._seen <= INLINE_ROWS:
                index_rows(rows[self._seen :], self._seen, self.indexes)
                self._seen = len(rows)
                return True
            self._building_to = len(rows)
            part = rows[self._seen : self._building_to]  # (a copy of the list: rows append)
            # The same index objects (rows only appended: views others hold stay valid), in
            # a dict of the worker's own, which the GUI thread takes back when it ends.
            self.builder.start(index_rows, part, self._seen, dict(self.indexes))
        self._waiting[asker] = then
        return False

    def _on_indexed(self, indexes) -> None:
        if indexes is None:  # (stopped: only when shutting down)
            return
        self.indexes, self._seen = indexes, self._building_to
        waiting, self._waiting = self._waiting, {}
        for then in waiting.values():
            then()  # (rows that came meanwhile: indexed now, or by the next build)

    def _on_failed(self, message: str) -> None:
        self._waiting = {}
        self.notify(f"Images could not be indexed for similarity: {message}", error=True)

    def index_of(self, source_row: int | None = None) -> EmbeddingIndex:
        """The index of the model that made ``source_row`` (by default the model of the
        latest run: the one whose rows the map shows), as filled so far (see :meth:`ready`)."""
        rows = self.results.rows
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
        images in the grid, most similar first; returns their rows ([] when it cannot, or
        not yet: while a worker indexes the results, after which they show)."""
        source_row = self.current_source_row() if source_row is None else source_row
        why = self.why_not(source_row)
        if why:
            self.notify(why)
            return []
        if not self.ready("find", lambda: self._show_similar(source_row, waited=True)):
            self.notify(f"Indexing {self.backlog():,} images to find the similar ones…")
            return []
        return self._show_similar(source_row)

    def _show_similar(self, source_row: int, waited: bool = False) -> list[int]:
        if source_row >= self.results.rowCount():  # (the results were replaced meanwhile)
            return []
        if not self.ready("find", lambda: self._show_similar(source_row, waited)):
            return []  # (so many rows came while indexing that a worker indexes them too)
        index = self.index_of(source_row)
        if source_row not in index:  # (its embedding did not match the others')
            self.notify(NO_EMBEDDINGS, warning=True)
            return []
        if waited:
            self.notify(f"{self.indexed():,} images indexed: similar ones now show at once.")
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

    def shutdown(self) -> None:
        self.builder.shutdown()
