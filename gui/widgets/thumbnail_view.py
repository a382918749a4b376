"""The thumbnail grid: a ``QListView`` in icon mode painted by :class:`TileDelegate`.

One model row per image and no widget per tile; only the tiles being painted ask for their
thumbnail, which comes from the bounded cache or is re-made off-thread (placeholder meanwhile).
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QRect, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QPainter,
    QPainterPath,
    QPen,
    QPixmap,
    QPixmapCache,
)
from PySide6.QtWidgets import QAbstractItemView, QListView, QStyle, QStyledItemDelegate

from .thumbnails import ThumbnailCache, ThumbnailLoader

MIN_TILE, MAX_TILE, DEFAULT_TILE = 96, 256, 150
_TEXT_H = 40  # label line + confidence bar under the image

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
        self.tile = DEFAULT_TILE

    def sizeHint(self, option, index) -> QSize:  # noqa: N802 (Qt API)
        return QSize(self.tile, self.tile + _TEXT_H)

    def paint(self, painter: QPainter, option, index: QModelIndex) -> None:
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        pal = option.palette
        r = option.rect.adjusted(4, 4, -4, -4)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        path = QPainterPath()
        path.addRoundedRect(QRectF(r), 6, 6)
        painter.fillPath(path, pal.highlight().color().lighter(175) if selected else pal.base())
        painter.setPen(
            QPen(pal.highlight().color() if selected else QColor("#d4d4d8"), 1.5 if selected else 1)
        )
        painter.drawPath(path)

        img_rect = QRect(r.x() + 6, r.y() + 6, r.width() - 12, r.height() - _TEXT_H - 6)
        row = index.model().row(index.row())  # one call, not index.data() per role
        error = row.pred.error
        if error:
            self._paint_failed(painter, img_rect)
        else:
            self._paint_thumbnail(painter, img_rect, row.path)
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
        painter.restore()

    def _paint_thumbnail(self, painter: QPainter, rect: QRect, path: str) -> None:
        img = self.cache.get(path)
        if img is None:
            painter.fillRect(rect, QColor("#f4f4f5"))
            if path not in self.cache.failed:
                self.loader.request(path)
            return
        size = img.size().scaled(rect.size(), Qt.AspectRatioMode.KeepAspectRatio)
        # Scaling once per tile size (kept in Qt's pixmap cache) makes repaints cheap.
        key = f"ph:{img.cacheKey()}:{size.width()}x{size.height()}"
        pix = QPixmapCache.find(key)
        if pix is None or pix.isNull():
            pix = QPixmap.fromImage(
                img.scaled(
                    size,
                    Qt.AspectRatioMode.IgnoreAspectRatio,
                    Qt.TransformationMode.SmoothTransformation,
                )
            )
            QPixmapCache.insert(key, pix)
        target = QRect(0, 0, size.width(), size.height())
        target.moveCenter(rect.center())
        painter.drawPixmap(target.topLeft(), pix)

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


class ThumbnailView(QListView):
    """Icon-mode list of tiles; Enter or double-click asks for the preview of a tile."""

    preview_requested = Signal(QModelIndex)

    def __init__(self, cache: ThumbnailCache, loader: ThumbnailLoader, parent=None):
        super().__init__(parent)
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

    @property
    def tile_size(self) -> int:
        return self.delegate.tile

    def set_tile_size(self, px: int) -> None:
        px = max(MIN_TILE, min(MAX_TILE, int(px)))
        if px == self.delegate.tile:
            return
        self.delegate.tile = px
        self.verticalScrollBar().setSingleStep(max(20, px // 4))
        self.scheduleDelayedItemsLayout()
        self.viewport().update()

    def keyPressEvent(self, event) -> None:  # noqa: N802 (Qt API)
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.currentIndex().isValid():
            self.preview_requested.emit(self.currentIndex())
            return
        super().keyPressEvent(event)
