"""The thumbnail grid: a ``QListView`` in icon mode painted by :class:`TileDelegate`.

One model row per image and no widget per tile; only the tiles being painted ask for their
thumbnail, which comes from the bounded cache or is re-made off-thread (placeholder meanwhile).
"""

from __future__ import annotations

from collections import OrderedDict

from PySide6.QtCore import (
    QAbstractItemModel,
    QEvent,
    QModelIndex,
    QRect,
    QRectF,
    QSize,
    QStringListModel,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QPainter,
    QPainterPath,
    QPen,
    QPixmap,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QListView,
    QStyle,
    QStyledItemDelegate,
    QToolTip,
)

from .thumbnails import ThumbnailCache, ThumbnailLoader

MIN_TILE, MAX_TILE, DEFAULT_TILE = 96, 256, 150
_TEXT_H = 40  # label line + confidence bar under the image

_MAX_TILES = 400  # rendered tiles kept (a screenful or two at any tile size)
# The part of a tile's state that changes how it looks.
_STATES = QStyle.StateFlag.State_Selected

GRID_BACKGROUND = QColor("#f4f4f5")  # the grid's background (gui/style.qss: QListView)

_GOOD, _FAIR, _POOR = QColor("#16a34a"), QColor("#d97706"), QColor("#dc2626")
_CORRECTED = QColor("#2563eb")


def confidence_colour(conf: float) -> QColor:
    """Green from 80 %, amber from 50 %, red below."""
    return _GOOD if conf >= 0.8 else _FAIR if conf >= 0.5 else _POOR


class TileDelegate(QStyledItemDelegate):
    """Paints one tile: thumbnail, label, confidence as a number and a coloured bar, and a mark
    on images that failed to load or were relabelled by hand."""

    def __init__(self, cache: ThumbnailCache, loader: ThumbnailLoader, parent=None):
        super().__init__(parent)
        self.cache, self.loader = cache, loader
        self.results = None  # the model whose row(i) is tile i (set by ThumbnailView)
        self.tile = DEFAULT_TILE
        self._tiles: OrderedDict[tuple, QPixmap] = OrderedDict()

    def sizeHint(self, option, index) -> QSize:  # noqa: N802 (Qt API)
        return QSize(self.tile, self.tile + _TEXT_H)

    def paint(self, painter: QPainter, option, index: QModelIndex) -> None:
        """Draw the tile from a cache of rendered tiles, rendering it on a miss.

        While a run goes the grid is laid out and repainted several times a second; painting a
        tile afresh takes ~40 calls into Qt, each of which lets go of the GIL and has to win it
        back from the run's threads (0.45 ms a tile, a third of the window's time). A cached
        tile is one drawPixmap."""
        row = self.results.row(index.row())  # one call, not index.data() per role
        rect = option.rect
        state = bool(option.state & _STATES)
        img = None if row.pred.error else self.cache.get(row.path)
        key = (
            row.path,
            rect.width(),
            rect.height(),
            row.label,
            row.corrected is not None,
            row.pred.confidence,
            state,
            img.cacheKey() if img is not None else 0,
        )
        pix = self._tiles.get(key)
        if pix is None:
            dpr = painter.device().devicePixelRatioF() if painter.device() else 1.0
            pix = QPixmap(rect.size() * dpr)
            pix.setDevicePixelRatio(dpr)
            pix.fill(GRID_BACKGROUND)  # opaque: drawn by a copy, not alpha blending
            p = QPainter(pix)
            self._paint_tile(p, option, QRect(0, 0, rect.width(), rect.height()), row, img)
            p.end()
            self._tiles[key] = pix
            if len(self._tiles) > _MAX_TILES:
                self._tiles.popitem(last=False)
        else:
            self._tiles.move_to_end(key)
        painter.drawPixmap(rect.topLeft(), pix)

    def clear_tiles(self) -> None:
        """Forget the rendered tiles (the palette or font changed)."""
        self._tiles.clear()

    def _paint_tile(self, painter: QPainter, option, rect: QRect, row, img) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        pal = option.palette
        r = rect.adjusted(4, 4, -4, -4)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        path = QPainterPath()
        path.addRoundedRect(QRectF(r), 6, 6)
        painter.fillPath(path, pal.highlight().color().lighter(175) if selected else pal.base())
        painter.setPen(
            QPen(pal.highlight().color() if selected else QColor("#d4d4d8"), 1.5 if selected else 1)
        )
        painter.drawPath(path)

        img_rect = QRect(r.x() + 6, r.y() + 6, r.width() - 12, r.height() - _TEXT_H - 6)
        error = row.pred.error
        if error:
            self._paint_failed(painter, img_rect)
        else:
            self._paint_thumbnail(painter, img_rect, row.path, img)
        corrected = row.corrected is not None
        if corrected:
            self._paint_badge(painter, img_rect, "✎", _CORRECTED)

        text_rect = QRect(r.x() + 6, img_rect.bottom() + 4, r.width() - 12, 18)
        font = QFont(option.font)
        font.setBold(True)
        painter.setFont(font)
        fm = QFontMetrics(font)
        conf = row.pred.confidence
        conf_text = f"{conf * 100:.0f}%" if conf is not None and not error else ""
        conf_w = fm.horizontalAdvance("100%") if conf_text else 0
        label = "Failed to load" if error else (row.label or "")
        painter.setPen(_POOR if error else _CORRECTED if corrected else pal.text().color())
        painter.drawText(
            text_rect.adjusted(0, 0, -conf_w - 4, 0),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            fm.elidedText(label, Qt.TextElideMode.ElideRight, text_rect.width() - conf_w - 4),
        )
        if conf_text:
            painter.setPen(pal.placeholderText().color() if corrected else pal.text().color())
            painter.drawText(
                text_rect, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, conf_text
            )
            bar = QRectF(text_rect.x(), text_rect.bottom() + 5, text_rect.width(), 5)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor("#e4e4e7"))
            painter.drawRoundedRect(bar, 2.5, 2.5)
            painter.setBrush(confidence_colour(conf))
            painter.drawRoundedRect(
                QRectF(bar.x(), bar.y(), max(5.0, bar.width() * conf), 5), 2.5, 2.5
            )

    def _paint_thumbnail(self, painter: QPainter, rect: QRect, path: str, img) -> None:
        if img is None:
            painter.fillRect(rect, QColor("#f4f4f5"))
            if path not in self.cache.failed:
                self.loader.request(path)
            return
        size = img.size().scaled(rect.size(), Qt.AspectRatioMode.KeepAspectRatio)
        target = QRect(0, 0, size.width(), size.height())
        target.moveCenter(rect.center())
        painter.drawImage(target, img)  # smooth: the painter has SmoothPixmapTransform on

    def _paint_failed(self, painter: QPainter, rect: QRect) -> None:
        painter.fillRect(rect, QColor("#fef2f2"))
        d = min(rect.width(), rect.height()) // 3
        circle = QRect(0, 0, d, d)
        circle.moveCenter(rect.center())
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(_POOR)
        painter.drawEllipse(circle)
        font = painter.font()
        font.setBold(True)
        font.setPixelSize(max(10, int(d * 0.7)))
        painter.setFont(font)
        painter.setPen(QColor("white"))
        painter.drawText(circle, Qt.AlignmentFlag.AlignCenter, "!")

    def _paint_badge(self, painter: QPainter, rect: QRect, text: str, colour: QColor) -> None:
        badge = QRect(rect.right() - 22, rect.top() + 2, 20, 20)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        painter.drawEllipse(badge)
        painter.setPen(QColor("white"))
        font = painter.font()
        font.setPixelSize(12)
        painter.setFont(font)
        painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, text)


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
        self.setSpacing(2)
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
        view is narrower than two tiles of the chosen size."""
        room = (self.viewport().width() - 4 * self.spacing()) // 2
        px = max(MIN_TILE, min(self._chosen_tile, room))
        if px == self.delegate.tile:
            return
        self.delegate.tile = px
        self.verticalScrollBar().setSingleStep(max(20, px // 4))
        self.scheduleDelayedItemsLayout()
        self.viewport().update()

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
