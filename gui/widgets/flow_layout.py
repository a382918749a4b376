"""A layout that places its widgets in a row and wraps onto a further row only where the row
is too narrow (Qt's flow layout example): a bar of controls that stays one line on a laptop
screen and still shows every control in a narrower window."""

from __future__ import annotations

from PySide6.QtCore import QMargins, QPoint, QRect, QSize, Qt
from PySide6.QtWidgets import QLayout, QLayoutItem, QWidget


class FlowLayout(QLayout):
    """Items left to right, wrapping; an item added with :meth:`add_stretch_widget` takes the
    room left at the end of its row (so a count can sit at the right edge)."""

    def __init__(self, parent: QWidget | None = None, spacing: int = 6) -> None:
        super().__init__(parent)
        self._items: list[QLayoutItem] = []
        self._stretch: set[int] = set()  # ids of the items that take the room left in a row
        self.setSpacing(spacing)
        self.setContentsMargins(QMargins(0, 0, 0, 0))

    def add_stretch_widget(self, widget: QWidget) -> None:
        self.addWidget(widget)
        self._stretch.add(id(self._items[-1]))

    # -- QLayout -----------------------------------------------------------------------------
    def addItem(self, item: QLayoutItem) -> None:  # noqa: N802 (Qt API)
        self._items.append(item)

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int) -> QLayoutItem | None:  # noqa: N802 (Qt API)
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int) -> QLayoutItem | None:  # noqa: N802 (Qt API)
        if not 0 <= index < len(self._items):
            return None
        item = self._items.pop(index)
        self._stretch.discard(id(item))
        return item

    def expandingDirections(self) -> Qt.Orientation:  # noqa: N802 (Qt API)
        return Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:  # noqa: N802 (Qt API)
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: N802 (Qt API)
        return self._place(QRect(0, 0, width, 0), move=False)

    def setGeometry(self, rect: QRect) -> None:  # noqa: N802 (Qt API)
        super().setGeometry(rect)
        self._place(rect, move=True)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        """All items on one row."""
        shown = self._shown()
        m = self.contentsMargins()
        width = sum(i.sizeHint().width() for i in shown) + self.spacing() * max(0, len(shown) - 1)
        height = max((i.sizeHint().height() for i in shown), default=0)
        return QSize(width + m.left() + m.right(), height + m.top() + m.bottom())

    def minimumSize(self) -> QSize:  # noqa: N802 (Qt API)
        """The widest item (everything else can wrap)."""
        m = self.contentsMargins()
        size = QSize()
        for item in self._shown():
            size = size.expandedTo(item.minimumSize())
        return size + QSize(m.left() + m.right(), m.top() + m.bottom())

    # -- placing -----------------------------------------------------------------------------
    def _shown(self) -> list[QLayoutItem]:
        return [i for i in self._items if not (i.widget() and i.widget().isHidden())]

    def _rows(self, width: int) -> list[list[QLayoutItem]]:
        rows: list[list[QLayoutItem]] = [[]]
        x = 0
        for item in self._shown():
            w = item.sizeHint().width()
            if rows[-1] and x + w > width:
                rows.append([])
                x = 0
            rows[-1].append(item)
            x += w + self.spacing()
        return [r for r in rows if r]

    def _place(self, rect: QRect, move: bool) -> int:
        m = self.contentsMargins()
        area = rect.adjusted(m.left(), m.top(), -m.right(), -m.bottom())
        y = area.y()
        for row in self._rows(area.width()):
            height = max(i.sizeHint().height() for i in row)
            if move:
                self._place_row(row, area, y, height)
            y += height + self.spacing()
        return y - self.spacing() - rect.y() + m.bottom() if y > area.y() else 0

    def _place_row(self, row: list[QLayoutItem], area: QRect, y: int, height: int) -> None:
        widths = [i.sizeHint().width() for i in row]
        left = area.width() - sum(widths) - self.spacing() * (len(row) - 1)
        stretch = [k for k, i in enumerate(row) if id(i) in self._stretch]
        if stretch and left > 0:
            widths[stretch[0]] += left
        x = area.x()
        for item, w in zip(row, widths, strict=True):
            w = min(w, area.right() + 1 - x)  # never past the edge: the item is squeezed
            h = min(height, item.sizeHint().height())
            item.setGeometry(QRect(QPoint(x, y + (height - h) // 2), QSize(max(0, w), h)))
            x += w + self.spacing()
