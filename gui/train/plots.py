"""Training views: loss and accuracy curves (pyqtgraph), a confusion-matrix heat map."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import QHBoxLayout, QSizePolicy, QWidget

from ..widgets.plots import CompactAxes

TRAIN_COLOUR = "#2563eb"
VAL_COLOUR = "#f59e0b"
_REDRAW_MS = 100


class TrainingCurves(QWidget):
    """Train/validation loss and accuracy per epoch; a dashed line marks the kept epoch.
    ``drawn(history)`` follows every redraw, with the epochs it drew (the progress line
    takes its words from there, so it never runs ahead of the picture)."""

    drawn = Signal(object)  # list[EpochStats]: what the curves show now

    def __init__(self, parent=None):
        super().__init__(parent)
        pg.setConfigOptions(antialias=True, background="w", foreground="#3f3f46")
        self.history: list = []  # the EpochStats received
        self.epochs: list[int] = []
        self.train_loss: list[float] = []
        self.val_loss: list[float] = []
        self.train_acc: list[float] = []
        self.val_acc: list[float] = []
        self.best_epoch = 0
        self._dirty = False

        self.loss_plot = pg.PlotWidget()
        self.acc_plot = pg.PlotWidget()
        self.curves = {}
        for plot, key in ((self.loss_plot, "loss"), (self.acc_plot, "acc")):
            plot.showGrid(x=False, y=True, alpha=0.25)
            plot.addLegend(offset=(-5, 5), labelTextSize="8pt")
            plot.setMouseEnabled(x=False, y=False)
            plot.hideButtons()
            plot.setMinimumHeight(150)
            sym = {"symbol": "o", "symbolSize": 4}
            self.curves[f"train_{key}"] = plot.plot(
                pen=pg.mkPen(TRAIN_COLOUR, width=2), name="train", symbolBrush=TRAIN_COLOUR, **sym
            )
            self.curves[f"val_{key}"] = plot.plot(
                pen=pg.mkPen(VAL_COLOUR, width=2), name="validation", symbolBrush=VAL_COLOUR, **sym
            )
        self.axes = [
            CompactAxes(plot, title, {"bottom": "epoch", "left": unit}, min_width=240)
            for plot, title, unit in (
                (self.loss_plot, "Loss", "cross-entropy"),
                (self.acc_plot, "Accuracy", "%"),
            )
        ]
        self.acc_plot.setYRange(0, 100, padding=0.02)
        self.best_lines = [
            pg.InfiniteLine(angle=90, pen=pg.mkPen("#16a34a", width=1, style=Qt.PenStyle.DashLine))
            for _ in range(2)
        ]
        for plot, line in zip((self.loss_plot, self.acc_plot), self.best_lines, strict=True):
            line.setVisible(False)
            plot.addItem(line)

        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.loss_plot)
        lay.addWidget(self.acc_plot)
        self._timer = QTimer(self, interval=_REDRAW_MS, singleShot=True)
        self._timer.timeout.connect(self.redraw)

    def add_epoch(self, stats) -> None:
        """Append a core.head.EpochStats (the redraw is throttled)."""
        self.history.append(stats)
        self.epochs.append(stats.epoch)
        self.train_loss.append(stats.train_loss)
        self.train_acc.append(100 * stats.train_acc)
        if stats.val_loss is not None:
            self.val_loss.append(stats.val_loss)
            self.val_acc.append(100 * stats.val_acc)
        if stats.is_best:
            self.best_epoch = stats.epoch
        if not self._timer.isActive():
            self._timer.start()

    def set_best(self, epoch: int) -> None:
        self.best_epoch = epoch
        self.redraw()

    def clear(self) -> None:
        for series in (
            self.history,
            self.epochs,
            self.train_loss,
            self.val_loss,
            self.train_acc,
            self.val_acc,
        ):
            series.clear()
        self.best_epoch = 0
        self.redraw()

    def point_count(self, name: str = "train_loss") -> int:
        x, _ = self.curves[name].getData()
        return 0 if x is None else len(x)

    def redraw(self) -> None:
        x = self.epochs
        self.curves["train_loss"].setData(x, self.train_loss)
        self.curves["train_acc"].setData(x, self.train_acc)
        self.curves["val_loss"].setData(x[: len(self.val_loss)], self.val_loss)
        self.curves["val_acc"].setData(x[: len(self.val_acc)], self.val_acc)
        for line in self.best_lines:
            line.setVisible(self.best_epoch > 0)
            line.setValue(self.best_epoch)
        self.drawn.emit(list(self.history))


class ConfusionMatrixView(QWidget):
    """Heat map of a confusion matrix: rows are the true class, columns the predicted one; the
    colour is the share of the row, the number the image count."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.matrix: list[list[int]] = []
        self.names: list[str] = []
        self.setMinimumSize(220, 200)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set_matrix(self, matrix: list[list[int]], names: list[str]) -> None:
        self.matrix = [list(map(int, row)) for row in matrix]
        self.names = list(names)
        self.setToolTip("Rows: true class · columns: predicted class")
        self.update()

    def sizeHint(self) -> QSize:
        n = max(2, len(self.names))
        return QSize(120 + 40 * n, 60 + 40 * n)

    def _label_width(self) -> int:
        fm = self.fontMetrics()
        return min(140, max([30, *(fm.horizontalAdvance(n) + 10 for n in self.names)]))

    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor("white"))
        n = len(self.matrix)
        if n == 0:
            p.setPen(QColor("#a1a1aa"))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "Confusion matrix after training")
            return
        left, top = self._label_width() + 18, 34
        side = max(4.0, min((self.width() - left - 8) / n, (self.height() - top - 8) / n))
        small = QFont(self.font())
        small.setPointSizeF(max(6.0, min(9.0, side / 3.2)))
        p.setFont(small)
        p.setPen(QColor("#52525b"))
        p.drawText(QRectF(left, 0, side * n, 16), Qt.AlignmentFlag.AlignCenter, "predicted")
        p.save()
        p.translate(10, top + side * n / 2)
        p.rotate(-90)
        p.drawText(QRectF(-side * n / 2, -8, side * n, 16), Qt.AlignmentFlag.AlignCenter, "true")
        p.restore()
        show_text = side >= 14
        for i, row in enumerate(self.matrix):
            total = sum(row) or 1
            for j, count in enumerate(row):
                share = count / total
                rect = QRectF(left + j * side, top + i * side, side, side)
                p.fillRect(rect, _cell_colour(share, i == j))
                p.setPen(QPen(QColor("#e4e4e7"), 1))
                p.drawRect(rect)
                if show_text:
                    p.setPen(QColor("white") if share > 0.55 else QColor("#27272a"))
                    p.drawText(rect, Qt.AlignmentFlag.AlignCenter, str(count))
        if show_text:
            p.setPen(QColor("#3f3f46"))
            fm = p.fontMetrics()
            for k, name in enumerate(self.names[:n]):
                label = fm.elidedText(name, Qt.TextElideMode.ElideRight, left - 22)
                p.drawText(
                    QRectF(18, top + k * side, left - 22, side),
                    Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                    label,
                )
                head = fm.elidedText(name, Qt.TextElideMode.ElideRight, int(side) - 2)
                p.drawText(
                    QRectF(left + k * side, 16, side, 16), Qt.AlignmentFlag.AlignCenter, head
                )


def _cell_colour(share: float, diagonal: bool) -> QColor:
    """White to blue on the diagonal (right), white to red off it (wrong)."""
    base = (37, 99, 235) if diagonal else (220, 38, 38)
    s = max(0.0, min(1.0, share)) * (1.0 if diagonal else 0.85)
    return QColor(*(int(255 + (c - 255) * s) for c in base))
