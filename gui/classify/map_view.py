"""The map of the folder: every classified image as a point, placed by its embedding
(core.insight.projection, on a worker thread), coloured by its label, the model's prediction
or whether the label matches its folder's class. Hovering shows the image; a lasso selects its
points' images in the grid (which then shows just them), where the triage keys label them all
as one undoable step: 1-9, L and Ctrl+Z work in the map's window too. The other way round, the
images selected in the grid are ringed on the map. It shows the rows of the latest run's model
(rows of another model, kept beside them, are left out and counted), and starts afresh when the
results are replaced.

The map is a window of its own beside the main one (sized to the screen: gui.widgets.
screen_fit), so the grid keeps its room; it projects again when Refresh is pressed, and by
itself while it is open and new results have come in (at most every few seconds).
"""

from __future__ import annotations

import html
from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QItemSelectionModel, QObject, QPoint, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QPixmap
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ...core.insight.projection import MIN_POINTS, project
from ..widgets.actions import make_action
from ..widgets.screen_fit import resize_to_screen
from ..widgets.thumbnails import ThumbnailCache, ThumbnailLoader
from ..widgets.workers import WorkerSlot
from .results_model import ResultsModel
from .similar import NO_EMBEDDINGS, SimilarImages
from .triage import TriageController

COLOUR_BY = {"label": "Label", "predicted": "Prediction", "correct": "Right or wrong"}
AUTO_REFRESH_MS = 5000
NO_CLASS = "(no label)"
HINT = "Drag to lasso · 1-9 or L label the lassoed images · wheel zooms · middle-drag pans"


def point_groups(rows, colour_by: str, classes=()) -> tuple[np.ndarray, list[str]]:
    """Each row's group (an index into the names returned) for ``colour_by``: its label, the
    model's label, or right / wrong against its folder's class. Labels come in the order of
    ``classes`` (the model's), then the others: a class keeps its colour in both modes."""
    if colour_by == "correct":
        names = ["right", "wrong", "(no folder class)"]
        groups = [2 if r.truth is None or not r.ok else int(r.label != r.truth) for r in rows]
        return np.array(groups, dtype=np.int64), names
    labels = [(r.label if colour_by == "label" else r.pred.label) or NO_CLASS for r in rows]
    seen = set(labels)
    names = [c for c in classes if c in seen]
    names += sorted(seen - set(names), key=lambda n: (n == NO_CLASS, n))
    at = {n: i for i, n in enumerate(names)}
    return np.array([at[n] for n in labels], dtype=np.int64), names


class MapWindow(QWidget):
    """The map's window: the colour chooser, Refresh, what the map shows, and the scatter."""

    label_key = Signal(int)  # a number key 1-9 pressed in the window (as on the grid)

    def __init__(self, parent: QWidget):
        super().__init__(parent, Qt.WindowType.Window)
        from ..widgets.scatter_map import ScatterMap  # (pyqtgraph: only once a map is opened)

        self.setWindowTitle("Map of the folder — Pigeonhole")
        self.colour_by = QComboBox(toolTip="What the colours of the points say")
        for key, text in COLOUR_BY.items():
            self.colour_by.addItem(text, key)
        self.refresh_button = QPushButton("Refresh", toolTip="Place the images on the map again")
        self.status = QLabel("", objectName="hint", wordWrap=True)
        self.scatter = ScatterMap()
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Colour by"))
        bar.addWidget(self.colour_by)
        bar.addWidget(self.refresh_button)
        bar.addWidget(self.status, 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addLayout(bar)
        lay.addWidget(self.scatter, 1)
        lay.addWidget(QLabel(HINT, objectName="hint", wordWrap=True))
        resize_to_screen(self, 980, 700)

    def keyPressEvent(self, event) -> None:  # noqa: N802 (Qt API)
        key = event.key()
        if (
            event.modifiers() == Qt.KeyboardModifier.NoModifier
            and Qt.Key.Key_1 <= key <= Qt.Key.Key_9
        ):
            self.label_key.emit(key - Qt.Key.Key_0)
            return
        super().keyPressEvent(event)


class MapController(QObject):
    """The "Map of the folder" action, its window, the projection worker, and the way lassoed
    points become the grid's selection."""

    def __init__(
        self,
        host: QWidget,
        similar: SimilarImages,
        triage: TriageController,
        thumbnails: tuple[ThumbnailCache, ThumbnailLoader],
        notify: Callable[..., None],
    ) -> None:
        super().__init__(host)
        self.host, self.similar, self.triage = host, similar, triage
        self.cache, self.loader = thumbnails
        self.results: ResultsModel = similar.results
        self.notify = notify
        self.window: MapWindow | None = None
        self.keys = np.empty(0, dtype=np.int64)  # the result row of each point
        self.projection = None
        self._point_of = np.empty(0, dtype=np.int64)  # result row -> its point (-1: none)
        self.placed = ""  # how the map shown was made
        self._left_out = ""  # rows of another model than the map's
        self.action = make_action(host, "&Map of the folder…", self.show, QKeySequence("M"), False)
        self.worker = WorkerSlot(self, on_finished=self._on_projected, on_failed=self._on_failed)
        self._auto = QTimer(self, singleShot=True, interval=AUTO_REFRESH_MS)
        self._auto.timeout.connect(self._refresh_if_grown)
        self._recolour = QTimer(self, singleShot=True, interval=150)
        self._recolour.timeout.connect(self.recolour)
        self.results.rowsInserted.connect(self._on_rows)
        self.results.modelReset.connect(self._on_reset)
        self.results.dataChanged.connect(lambda *_a: self._recolour.start())
        similar.ui.grid.selectionModel().selectionChanged.connect(self.ring_selection)
        self._on_rows()

    # -- the action and the window -----------------------------------------------------------
    def _on_reset(self) -> None:
        """The results were replaced (another run): the points shown are of rows now gone."""
        self.worker.discard()
        self.projection, self.keys, self.placed = None, np.empty(0, dtype=np.int64), ""
        self._point_of = np.empty(0, dtype=np.int64)
        if self.window is not None:
            self.window.scatter.set_points(np.empty((0, 2), dtype=np.float32))
            self.window.scatter.set_groups(np.empty(0, dtype=np.int64), [])
            self._say("")
        self._on_rows()

    def _on_rows(self, *_args) -> None:
        has = any(r.pred.embedding is not None for r in self.results.rows[-200:])
        has = has or self.similar.indexed() > 0
        self.action.setEnabled(has)
        self.action.setToolTip(
            "A map of the images, placed by how alike the network sees them (M)"
            if has
            else (NO_EMBEDDINGS if self.results.rowCount() else "Classify some images first.")
        )
        if self.window is not None and self.window.isVisible() and not self._auto.isActive():
            self._auto.start()

    def show(self) -> MapWindow:
        """Open the map (projecting the results if it has not yet)."""
        if self.window is None:
            self.window = w = MapWindow(self.host)
            w.refresh_button.clicked.connect(self.refresh)
            w.colour_by.currentIndexChanged.connect(self.recolour)
            w.scatter.lassoed.connect(self.select_points)
            w.scatter.hovered.connect(self._on_hover)
            w.addActions([self.triage.act_relabel, *self.triage.edit_actions])
            w.label_key.connect(self.triage.label_key)
        self.window.show()
        self.window.raise_()
        if self.projection is None and not self.worker.busy:
            self.refresh()
        self.ring_selection()
        return self.window

    # -- projecting --------------------------------------------------------------------------
    def refresh(self) -> bool:
        """Project the results' embeddings again, on a worker (once they are indexed, on
        another). False when too few have one."""
        if not self.similar.ready("map", self.refresh):
            self._say(f"Indexing {self.similar.backlog():,} images…")
            return True
        index = self.similar.index_of()
        if len(index) < MIN_POINTS:
            self._say(NO_EMBEDDINGS if self.results.rowCount() else "Classify some images first.")
            return False
        others = self.similar.indexed() - len(index)
        self._left_out = f"{others:,} images of another model left out" if others else ""
        self._say(f"Placing {len(index):,} images…")
        self.worker.start(project, index.keys, index.vectors)  # (views: rows only appended)
        return True

    def _refresh_if_grown(self) -> None:
        if self.worker.busy or self.window is None or not self.window.isVisible():
            return
        if not self.similar.ready("map", self._refresh_if_grown):
            return
        if len(self.similar.index_of()) != len(self.keys):
            self.refresh()

    def _on_projected(self, projection) -> None:
        if projection is None:
            return
        self.projection, self.keys = projection, projection.keys
        self.window.scatter.set_points(projection.points)
        self.recolour()
        self._point_of = np.full(self.results.rowCount(), -1, dtype=np.int64)
        self._point_of[self.keys] = np.arange(len(self.keys))
        self.placed = f"{len(self.keys):,} images placed by {projection.method}"
        self.window.status.setToolTip(projection.note)  # (why not a better method)
        self._say(self._left_out)
        self.ring_selection()

    def _on_failed(self, message: str) -> None:
        self._say(message)

    def _say(self, text: str) -> None:
        """``text`` after how the map was made (the method, and why not a better one)."""
        if self.window is not None:
            self.window.status.setText(" · ".join(t for t in (self.placed, text) if t))

    def recolour(self, *_args) -> None:
        """Colour the points by what the chooser says (labels may have changed)."""
        if self.window is None or self.projection is None:
            return
        rows = [self.results.row_at(int(k)) for k in self.keys]
        colour_by = self.window.colour_by.currentData()
        groups, names = point_groups(rows, colour_by, self.results.class_names)
        self.window.scatter.set_groups(groups, names)

    # -- lasso and hover ---------------------------------------------------------------------
    def select_points(self, indices: np.ndarray) -> list[int]:
        """The images of points ``indices``: shown alone in the grid and all selected, so
        the triage keys label them (one step, one undo)."""
        rows = sorted(int(k) for k in self.keys[np.asarray(indices, dtype=np.int64)])
        if not rows:
            return []
        n = len(rows)
        self.similar.view_model.pin(rows, f"{n:,} image{'s' if n != 1 else ''} lassoed on the map")
        grid = self.similar.ui.grid
        grid.selectionModel().setCurrentIndex(
            grid.model().index(0, 0), QItemSelectionModel.SelectionFlag.NoUpdate
        )
        grid.selectAll()
        self._say(f"{n:,} images selected: 1-9 or L label them, Ctrl+Z undoes.")
        return rows

    def ring_selection(self, *_args) -> np.ndarray:
        """Ring the points of the images selected in the grid (a lasso's, or the person's
        own choice there); returns those points."""
        if self.window is None or self.projection is None or not self.window.isVisible():
            return np.empty(0, dtype=np.int64)
        rows = np.asarray(self.triage.selected_source_rows(), dtype=np.int64)
        rows = rows[rows < len(self._point_of)]
        points = self._point_of[rows]
        points = points[points >= 0]
        self.window.scatter.show_chosen(points)
        return points

    def _on_hover(self, point: int, pos: QPoint) -> None:
        if point < 0 or point >= len(self.keys):
            return
        row = self.results.row_at(int(self.keys[point]))
        img = self.cache.get(row.path) if row.ok else None
        if img is None and row.ok:
            self.loader.request(row.path)  # (shown the next time the mouse moves)
        pixmap = QPixmap.fromImage(img) if img is not None else None
        text = f"<b>{html.escape(row.name)}</b><br>{html.escape(row.label or 'failed')}"
        self.window.scatter.card.show_at(pos, pixmap, text)

    def shutdown(self) -> None:
        self.worker.shutdown()
        self.similar.shutdown()  # (its index builds feed the map; the tab shuts the map)
        if self.window is not None:
            self.window.close()
