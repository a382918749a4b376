"""A scatter map of many points (pyqtgraph) with a free-hand lasso and a hover card.

Points are drawn as one ``ScatterPlotItem`` per colour (pixel-sized symbols, cached: 50,000
points redraw in milliseconds, and each colour gets its legend entry); the mouse finds the
point under it through a bucket grid (core.insight.map_points), not a loop over the points.
A left-button drag draws the lasso; the wheel zooms, a middle-button drag pans, and the "A"
button in the corner fits everything in view again. Imports pyqtgraph: import this module
only when a map is opened.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPoint, QPointF, Qt, Signal
from PySide6.QtGui import QColor, QPainterPath, QPen, QPixmap
from PySide6.QtWidgets import QFrame, QGraphicsPathItem, QLabel, QVBoxLayout, QWidget

from ...core.insight.map_points import PointGrid, points_in_polygon

POINT_PX = 5
HOVER_PX = 8  # how near the mouse a point must be to be shown
CARD_IMAGE = 128
PALETTE = (
    "#2563eb", "#f59e0b", "#16a34a", "#dc2626", "#9333ea",
    "#0891b2", "#db2777", "#65a30d", "#ea580c", "#4f46e5",
)  # fmt: skip
OTHER = "#a1a1aa"  # no label, failed, or no folder class
FIXED = {"right": "#16a34a", "wrong": "#dc2626"}


def group_colour(i: int, name: str) -> str:
    """The colour of group ``i`` (the palette in turn; grey for a group in parentheses, of
    no class; green and red for right and wrong)."""
    if name in FIXED:
        return FIXED[name]
    return OTHER if name.startswith("(") else PALETTE[i % len(PALETTE)]


class LassoViewBox(pg.ViewBox):
    """A ViewBox whose left-button drag draws a free-hand polygon and reports it, in data
    coordinates, when the button is let go."""

    lassoed = Signal(object)  # np.ndarray (m, 2)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._corners: list[tuple[float, float]] = []
        self._line = QGraphicsPathItem()
        pen = QPen(QColor("#18181b"), 0)  # (cosmetic: one pixel whatever the zoom)
        pen.setStyle(Qt.PenStyle.DashLine)
        self._line.setPen(pen)
        self.addItem(self._line, ignoreBounds=True)

    def mouseDragEvent(self, ev, axis=None) -> None:  # noqa: N802 (pyqtgraph API)
        if ev.button() != Qt.MouseButton.LeftButton or axis is not None:
            super().mouseDragEvent(ev, axis)
            return
        ev.accept()
        p = self.mapSceneToView(ev.scenePos())
        if ev.isStart():
            start = self.mapSceneToView(ev.buttonDownScenePos())
            self._corners = [(start.x(), start.y())]
        self._corners.append((p.x(), p.y()))
        path = QPainterPath(QPointF(*self._corners[0]))
        for c in self._corners[1:]:
            path.lineTo(QPointF(*c))
        self._line.setPath(path)
        if ev.isFinish():
            corners, self._corners = np.array(self._corners), []
            self._line.setPath(QPainterPath())
            self.lassoed.emit(corners)


class HoverCard(QFrame):
    """A small card over the plot: an image's thumbnail and a line of text."""

    def __init__(self, parent: QWidget):
        super().__init__(parent)
        self.setObjectName("hoverCard")
        self.setStyleSheet("#hoverCard { background: white; border: 1px solid #a1a1aa; }")
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.image = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
        self.image.setFixedSize(CARD_IMAGE, CARD_IMAGE)
        self.text = QLabel(wordWrap=True)
        self.text.setFixedWidth(CARD_IMAGE)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.setSpacing(2)
        lay.addWidget(self.image)
        lay.addWidget(self.text)
        self.hide()

    def show_at(self, pos: QPoint, pixmap: QPixmap | None, text: str) -> None:
        if pixmap is None or pixmap.isNull():
            self.image.setText("…")
        else:
            self.image.setPixmap(
                pixmap.scaled(
                    CARD_IMAGE, CARD_IMAGE, Qt.AspectRatioMode.KeepAspectRatio,
                    Qt.TransformationMode.SmoothTransformation,
                )
            )  # fmt: skip
        self.text.setText(text)
        self.adjustSize()
        room = self.parentWidget().rect()
        x = (
            pos.x() + 16
            if pos.x() + 16 + self.width() <= room.right()
            else pos.x() - 16 - self.width()
        )
        y = min(max(0, pos.y() - self.height() // 2), max(0, room.bottom() - self.height()))
        self.move(max(0, x), y)
        self.show()
        self.raise_()


class ScatterMap(QWidget):
    """Points in groups of one colour each; a lasso (``lassoed``: the indices of the points
    inside) and the point under the mouse (``hovered``: its index, -1 for none, and where)."""

    lassoed = Signal(object)  # np.ndarray of point indices
    hovered = Signal(int, QPoint)

    def __init__(self, parent=None):
        super().__init__(parent)
        pg.setConfigOptions(antialias=False, background="w", foreground="#3f3f46")
        self.view = LassoViewBox()
        self.plot = pg.PlotWidget(viewBox=self.view)
        self.plot.setAspectLocked(False)
        self.plot.hideAxis("left")
        self.plot.hideAxis("bottom")
        self.legend = self.plot.addLegend(offset=(5, 5), labelTextSize="8pt")
        self.card = HoverCard(self.plot)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.plot)
        self.points = np.empty((0, 2), dtype=np.float32)
        self.grid: PointGrid | None = None
        self._items: list[pg.ScatterPlotItem] = []
        self._chosen = pg.ScatterPlotItem(
            size=POINT_PX + 4, pen=pg.mkPen("#18181b", width=1.5), brush=None, pxMode=True
        )
        self._chosen.setZValue(10)
        self.plot.addItem(self._chosen)
        self.view.lassoed.connect(self.select_polygon)
        self.plot.scene().sigMouseMoved.connect(self._on_mouse)
        self._hover = -1
        self._fit = False

    def set_points(self, points: np.ndarray) -> None:
        """New positions (n, 2), all in view; colours follow with :meth:`set_groups`."""
        self.points = np.asarray(points, dtype=np.float32)
        self.grid = PointGrid(self.points)
        self._chosen.setData([], [])
        self._fit = True  # once the points are drawn (set_groups)

    def set_groups(self, groups: np.ndarray, names: Sequence[str]) -> None:
        """Colour point i by group ``groups[i]`` (an index into ``names``, the legend)."""
        for item in self._items:
            self.plot.removeItem(item)
        self.legend.clear()
        self._items = []
        for g, name in enumerate(names):
            which = np.flatnonzero(groups == g)
            if len(which) == 0:
                continue
            colour = group_colour(g, name)
            item = pg.ScatterPlotItem(
                self.points[which, 0], self.points[which, 1], size=POINT_PX, pen=None,
                brush=pg.mkBrush(colour), pxMode=True, useCache=True,
                name=f"{name} ({len(which):,})",
            )  # fmt: skip
            self.plot.addItem(item)
            self._items.append(item)
        if self._fit:
            self._fit = False
            self.view.autoRange()

    def select_polygon(self, polygon: np.ndarray) -> np.ndarray:
        """The points inside ``polygon`` (data coordinates): ringed, and reported."""
        inside = np.flatnonzero(points_in_polygon(self.points, polygon))
        self.show_chosen(inside)
        self.lassoed.emit(inside)
        return inside

    def show_chosen(self, indices: np.ndarray) -> None:
        """Ring the points ``indices`` (the lassoed ones, or the grid's selection)."""
        pts = self.points[np.asarray(indices, dtype=np.int64)]
        self._chosen.setData(pts[:, 0], pts[:, 1])

    def point_at(self, scene_pos: QPointF) -> int:
        """The point within HOVER_PX pixels of ``scene_pos`` (nearest), or -1."""
        if self.grid is None or not self.view.sceneBoundingRect().contains(scene_pos):
            return -1
        p = self.view.mapSceneToView(scene_pos)
        px, py = self.view.viewPixelSize()
        hit = self.grid.nearest(p.x(), p.y(), HOVER_PX * px, HOVER_PX * py)
        return -1 if hit is None else hit

    def _on_mouse(self, scene_pos: QPointF) -> None:
        hit = self.point_at(scene_pos)
        if hit < 0:
            self.card.hide()
        if hit != self._hover or hit >= 0:
            self._hover = hit
            self.hovered.emit(hit, self.plot.mapFromScene(scene_pos))

    def leaveEvent(self, event) -> None:  # noqa: N802 (Qt API)
        self.card.hide()
        super().leaveEvent(event)
