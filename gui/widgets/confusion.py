"""A confusion-matrix heat map, shared by the Train tab's results and the Classify tab's
evaluation on class-named folders."""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget


class ConfusionMatrixView(QWidget):
    """Heat map of a confusion matrix: rows are the true class, columns the predicted one; the
    colour is the share of the row, the number the image count."""

    def __init__(self, parent=None, empty_text: str = "Confusion matrix after training"):
        super().__init__(parent)
        self.empty_text = empty_text
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
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.empty_text)
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
