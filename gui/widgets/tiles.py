"""A tile of the thumbnail grid: :class:`TileDelegate` paints one result (thumbnail, label,
confidence, and its marks, and in overlay mode the heat map its run kept) and keeps the
rendered tiles in a small cache.
"""

from __future__ import annotations

from collections import OrderedDict

from PySide6.QtCore import QModelIndex, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPainterPath, QPen, QPixmap
from PySide6.QtWidgets import QStyle, QStyledItemDelegate

from .heatmap_view import kept_values, paint_heat
from .result_row import CORRECTED_TEXT, ResultRow
from .thumbnails import ThumbnailCache, ThumbnailLoader

MIN_TILE, MAX_TILE, DEFAULT_TILE = 96, 256, 150
_TEXT_H = 34  # label line + confidence bar under the image
_FRAME = 20  # the tile's margin and the card's padding, left and right together


def tile_height(tile: int) -> int:
    """The height of a tile ``tile`` pixels wide: an image area shaped like most photos (4:3),
    the label and the confidence bar under it (a square area left a band empty above and below
    every landscape photo, and a laptop screen a row of tiles fewer)."""
    return (tile - _FRAME) * 3 // 4 + _TEXT_H + 14


_MAX_TILES = 400  # rendered tiles kept (a screenful or two at any tile size)
# The part of a tile's state that changes how it looks.
_STATES = QStyle.StateFlag.State_Selected

GRID_BACKGROUND = QColor("#f4f4f5")  # the grid's background (gui/style.qss: QListView)

_GOOD, _FAIR, _POOR = QColor("#16a34a"), QColor("#d97706"), QColor("#dc2626")
_CORRECTED = QColor("#2563eb")
_STALE = QColor(82, 82, 91, 215)  # the strip over a result from another model
_DISAGREE = QColor(185, 28, 28, 225)  # the strip over a label its folder disagrees with
STALE_TEXT = "other model"


def confidence_colour(conf: float) -> QColor:
    """Green from 80 %, amber from 50 %, red below."""
    return _GOOD if conf >= 0.8 else _FAIR if conf >= 0.5 else _POOR


def tile_marks(row: ResultRow) -> tuple[str, ...]:
    """The words a tile shows over its image: from another model than the one loaded now,
    and the folder's class where the label disagrees with it."""
    marks = [STALE_TEXT] if row.stale else []
    if row.disagrees:
        marks.append(f"folder: {row.truth}")
    return tuple(marks)


def tile_score_text(row: ResultRow) -> str:
    """What a tile shows right of its label: the model's confidence in that label, or
    "corrected" where the label is the person's (the model's confidence was for another)."""
    if not row.ok:
        return ""
    if row.corrected is not None:
        return CORRECTED_TEXT
    conf = row.pred.confidence
    return f"{conf * 100:.0f}%" if conf is not None else ""


class TileDelegate(QStyledItemDelegate):
    """Paints one tile: thumbnail, label, confidence as a number and a coloured bar, and a mark
    on images that failed to load or were relabelled by hand ("corrected" instead of the
    confidence), on results from another model (dimmed, "other model") and on labels their
    folder disagrees with ("folder: …")."""

    def __init__(self, cache: ThumbnailCache, loader: ThumbnailLoader, parent=None):
        super().__init__(parent)
        self.cache, self.loader = cache, loader
        self.results = None  # the model whose row(i) is tile i (set by ThumbnailView)
        self.tile = DEFAULT_TILE
        self._tiles: OrderedDict[tuple, QPixmap] = OrderedDict()
        # Overlay mode: the loaded model's preprocessing (None: off). Each tile then shows the
        # map its run kept for the label it names, coloured when the tile is rendered (only
        # tiles being painted are, once: the rendered tile is cached like any other).
        self.heat_spec = None

    def tile_map(self, row: ResultRow):
        """The kept map a tile lays over its thumbnail in overlay mode: for the label it shows,
        from the loaded model (a result of another model: none), or None."""
        if self.heat_spec is None or row.stale or not row.ok or row.model is None:
            return None
        if row.pred.maps is None or row.label is None:
            return None
        return kept_values(row.pred, row.label, row.model.class_names)

    def sizeHint(self, option, index) -> QSize:  # noqa: N802 (Qt API)
        return QSize(self.tile, tile_height(self.tile))

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
            row.stale,
            row.truth,
            state,
            img.cacheKey() if img is not None else 0,
            self.heat_spec,
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
            painter.setOpacity(0.45 if row.stale else 1.0)  # an old model's result: dimmed
            self._paint_thumbnail(painter, img_rect, row, img)
            painter.setOpacity(1.0)
        top_strip = 0  # the height of the band across the top of the image, if any
        for mark in tile_marks(row):
            stale = mark == STALE_TEXT
            h = self._paint_strip(painter, img_rect, mark, _STALE if stale else _DISAGREE, stale)
            top_strip = h if stale else top_strip
        corrected = row.corrected is not None
        if corrected:  # below the top band, not over its text
            self._paint_badge(painter, img_rect.adjusted(0, top_strip, 0, 0), "✎", _CORRECTED)

        text_rect = QRect(r.x() + 6, img_rect.bottom() + 4, r.width() - 12, 18)
        font = QFont(option.font)
        font.setBold(True)
        painter.setFont(font)
        fm = QFontMetrics(font)
        conf = row.pred.confidence
        score = tile_score_text(row)
        score_w = fm.horizontalAdvance(score if corrected else "100%") if score else 0
        label = "Failed to load" if error else (row.label or "")
        muted = pal.placeholderText().color()
        colour = _POOR if error else _CORRECTED if corrected else pal.text().color()
        painter.setPen(muted if row.stale and not error else colour)
        painter.drawText(
            text_rect.adjusted(0, 0, -score_w - 4, 0),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            fm.elidedText(label, Qt.TextElideMode.ElideRight, text_rect.width() - score_w - 4),
        )
        if corrected:  # the person's label: no confidence (the model's was for another)
            small = QFont(option.font)
            small.setItalic(True)
            painter.setFont(small)
            painter.setPen(_CORRECTED)
            painter.drawText(
                text_rect, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, score
            )
        elif score:
            painter.setPen(muted if row.stale else pal.text().color())
            painter.drawText(
                text_rect, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, score
            )
            bar = QRectF(text_rect.x(), text_rect.bottom() + 5, text_rect.width(), 5)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor("#e4e4e7"))
            painter.drawRoundedRect(bar, 2.5, 2.5)
            painter.setBrush(muted if row.stale else confidence_colour(conf))
            painter.drawRoundedRect(
                QRectF(bar.x(), bar.y(), max(5.0, bar.width() * conf), 5), 2.5, 2.5
            )

    def _paint_strip(
        self, painter: QPainter, rect: QRect, text: str, colour: QColor, top: bool
    ) -> int:
        """A band of ``colour`` across the top or bottom of the image, with ``text`` in it;
        returns its height."""
        font = QFont(painter.font())
        font.setBold(True)
        font.setPixelSize(max(9, min(12, rect.height() // 8)))
        painter.setFont(font)
        h = QFontMetrics(font).height() + 4
        band = QRect(rect.x(), rect.top() if top else rect.bottom() - h + 1, rect.width(), h)
        painter.fillRect(band, colour)
        painter.setPen(QColor("white"))
        fm = QFontMetrics(font)
        painter.drawText(
            band.adjusted(4, 0, -4, 0),
            Qt.AlignmentFlag.AlignCenter,
            fm.elidedText(text, Qt.TextElideMode.ElideRight, band.width() - 8),
        )
        return h

    def _paint_thumbnail(self, painter: QPainter, rect: QRect, row: ResultRow, img) -> None:
        if img is None:
            painter.fillRect(rect, QColor("#f4f4f5"))
            if row.path not in self.cache.failed:
                self.loader.request(row.path)
            return
        size = img.size().scaled(rect.size(), Qt.AspectRatioMode.KeepAspectRatio)
        target = QRect(0, 0, size.width(), size.height())
        target.moveCenter(rect.center())
        painter.drawImage(target, img)  # smooth: the painter has SmoothPixmapTransform on
        values = self.tile_map(row)
        if values is not None:  # (the thumbnail is the whole image: the map lies on it)
            paint_heat(painter, target, values, self.heat_spec)

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
