"""The thumbnail grid: a ``QListView`` in icon mode painted by :class:`TileDelegate`.

One model row per image and no widget per tile; only the tiles being painted ask for their
thumbnail, which comes from the bounded cache or is re-made off-thread (placeholder meanwhile).
"""

from __future__ import annotations

from PySide6.QtCore import (
    QAbstractItemModel,
    QEvent,
    QModelIndex,
    QSize,
    QStringListModel,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QListView,
    QStyle,
    QToolTip,
)

from .thumbnails import ThumbnailCache, ThumbnailLoader
from .tiles import DEFAULT_TILE, MAX_TILE, MIN_TILE, TileDelegate, tile_height

GAP = 2  # the least space around a tile
MAX_GAP = 24  # the most: past it, the grid's right edge may stay partly empty


class RowMirror(QStringListModel):
    """A C++ list model with as many (empty) rows as ``source``, following its inserts, resets
    and changes: what the grid's QListView is given instead of ``source`` itself.

    Laying out the grid asks the model for its row count twice per row; asked of a model
    written in Python, that was 100,000 calls into Python (and as many waits for the GIL while
    the run's threads hold it) every time a batch arrived at 50,000 results: 120-150 ms of the
    GUI thread. Asked of this model, it stays in C++. The tiles read the rows of ``source``
    (same row numbers), so row i of the grid is row i of ``source``."""

    def __init__(self, source: QAbstractItemModel, parent=None):
        super().__init__(parent)
        self.source = source
        self._reset()
        source.rowsInserted.connect(
            lambda _p, first, last: self.insertRows(first, last - first + 1)
        )
        source.rowsRemoved.connect(lambda _p, first, last: self.removeRows(first, last - first + 1))
        source.modelReset.connect(self._reset)
        source.layoutChanged.connect(self._reset)
        source.dataChanged.connect(self._changed)

    def _reset(self) -> None:
        self.setStringList([""] * self.source.rowCount())

    def _changed(self, top: QModelIndex, bottom: QModelIndex, _roles=()) -> None:
        self.dataChanged.emit(self.index(top.row()), self.index(bottom.row()))


class ThumbnailView(QListView):
    """Icon-mode list of tiles; Enter or double-click asks for the preview of a tile. Give it
    its rows with :meth:`set_results` (the model the tiles read; the view itself works on a
    :class:`RowMirror` of it, with the same row numbers)."""

    preview_requested = Signal(QModelIndex)
    label_key = Signal(int)  # a number key 1-9 pressed on the grid

    def __init__(self, cache: ThumbnailCache, loader: ThumbnailLoader, parent=None):
        super().__init__(parent)
        self.results: QAbstractItemModel | None = None
        self._chosen_tile = DEFAULT_TILE
        self.delegate = TileDelegate(cache, loader, self)
        self.setItemDelegate(self.delegate)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(200)
        self.setSpacing(GAP)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setMouseTracking(True)
        self.setWordWrap(False)
        self.doubleClicked.connect(self.preview_requested)
        # Thumbnails arriving from the loader repaint the viewport at most ~20 times a second.
        self._repaint = QTimer(self, singleShot=True, interval=50)
        self._repaint.timeout.connect(self.viewport().update)
        loader.ready.connect(lambda _p: self._repaint.isActive() or self._repaint.start())

    def set_results(self, results: QAbstractItemModel) -> None:
        """Show ``results`` (a model with ``row(i)`` giving the row object a tile paints)."""
        self.results = results
        self.delegate.results = results
        self.setModel(RowMirror(results, self))

    def viewportEvent(self, event) -> bool:  # noqa: N802 (Qt API)
        if event.type() == QEvent.Type.ToolTip and self.results is not None:
            index = self.indexAt(event.pos())
            if index.isValid():
                text = self.results.data(
                    self.results.index(index.row()), Qt.ItemDataRole.ToolTipRole
                )
                QToolTip.showText(event.globalPos(), text or "", self.viewport())
            else:
                QToolTip.hideText()
            return True
        return super().viewportEvent(event)

    @property
    def tile_size(self) -> int:
        """The size tiles are drawn at: the chosen one, or less where two would not fit."""
        return self.delegate.tile

    def set_tile_size(self, px: int) -> None:
        self._chosen_tile = max(MIN_TILE, min(MAX_TILE, int(px)))
        self._apply_tile()

    def _apply_tile(self) -> None:
        """The grid keeps at least two columns: tiles shrink (to MIN_TILE at most) when the
        view is narrower than two tiles of the chosen size. The width the columns leave over
        is spread between them (up to MAX_GAP), so the grid has no ragged empty strip at its
        right edge; the rows keep the least gap (the height is what a laptop screen lacks)."""
        width = self.viewport().width()
        px = max(MIN_TILE, min(self._chosen_tile, (width - 4 * GAP) // 2))
        room = self.layout_width()
        columns = max(1, (room - GAP) // (px + GAP))
        # (a couple of pixels to spare: at an exact fit QListView wraps the last column)
        cell_w = max(px + GAP, min(px + MAX_GAP, (room - 2) // columns))
        cell = QSize(cell_w, tile_height(px) + GAP)
        if px == self.delegate.tile and cell == self.gridSize():
            return
        self.setGridSize(cell)
        self.delegate.tile = px
        self.verticalScrollBar().setSingleStep(max(20, px // 4))
        self.scheduleDelayedItemsLayout()
        self.viewport().update()

    @property
    def column_gap(self) -> int:
        """The space between two columns of tiles."""
        return self.gridSize().width() - self.tile_size

    def layout_width(self) -> int:
        """The width QListView lays the tiles out in: the viewport's, less a scroll bar's
        while none shows (it keeps room for one, so that showing it never reflows the grid)."""
        width = self.viewport().width()
        if not self.verticalScrollBar().isVisibleTo(self):
            width -= self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)
        return width

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        super().resizeEvent(event)
        self._apply_tile()

    def keyPressEvent(self, event) -> None:  # noqa: N802 (Qt API)
        """Enter: the preview; 1-9: a label for the selection (instead of QListView's
        jump-to-an-item-starting-with-the-typed-text)."""
        key, mods = event.key(), event.modifiers()
        plain = mods in (Qt.KeyboardModifier.NoModifier, Qt.KeyboardModifier.KeypadModifier)
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.currentIndex().isValid():
            self.preview_requested.emit(self.currentIndex())
            return
        if plain and Qt.Key.Key_1 <= key <= Qt.Key.Key_9:
            self.label_key.emit(key - Qt.Key.Key_0)
            return
        super().keyPressEvent(event)
