"""Side panes that fit the window: one above the other where there is height for them, as
tabs where there is not (a laptop screen). A pane is shown while it has something to show
(:meth:`SidePanes.set_pane_visible`) and the person has not closed it
(:meth:`SidePanes.set_pane_closed`); with no pane shown, the whole column hides."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import (
    QLabel,
    QSplitter,
    QStackedLayout,
    QStyle,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

STACKED, TABS = "stacked", "tabs"


class SidePanes(QWidget):
    """Named panes (title, widget), stacked in a vertical splitter while this widget is at
    least ``min_stacked_height`` pixels high for two shown panes (half as much again for each
    more), else in tabs. :meth:`set_pane_visible` and :meth:`set_pane_closed` hide a pane in
    either arrangement; ``emptied`` says when the column hides or shows again."""

    emptied = Signal(bool)  # True: no pane is shown, the column is hidden

    def __init__(
        self,
        panes: list[tuple[str, QWidget]],
        min_stacked_height: int = 620,
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.panes = list(panes)
        self.min_stacked_height = min_stacked_height
        self.hidden: set[str] = set()  # nothing to show
        self.closed: set[str] = set()  # closed by the person
        self.empty = False  # no pane shown: the column is hidden
        self.mode: str | None = None
        self.boxes: dict[str, QWidget] = {}
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setChildrenCollapsible(False)
        for title, _widget in self.panes:
            box = QWidget()
            lay = QVBoxLayout(box)
            lay.setContentsMargins(4, 8, 4, 4)
            lay.addWidget(QLabel(title, objectName="heading"))
            self.boxes[title] = box
            self.splitter.addWidget(box)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        # Every tab in view, their titles shortened where narrow (not one hidden behind arrows).
        self.tabs.setUsesScrollButtons(False)
        self.tabs.setElideMode(Qt.TextElideMode.ElideRight)
        self._stack = QStackedLayout(self)
        self._stack.addWidget(self.splitter)
        self._stack.addWidget(self.tabs)
        self._arrange(STACKED)

    def set_pane_visible(self, title: str, visible: bool) -> None:
        """Whether the pane has something to show (it shows unless closed)."""
        (self.hidden.discard if visible else self.hidden.add)(title)
        self._rearrange()

    def set_pane_closed(self, title: str, closed: bool) -> None:
        """The person closed (or opened again) the pane."""
        (self.closed.add if closed else self.closed.discard)(title)
        self._rearrange()

    def pane_visible(self, title: str) -> bool:
        """The pane has something to show (closed or not)."""
        return title not in self.hidden

    def shown_titles(self) -> list[str]:
        return [t for t, _w in self.panes if t not in self.hidden and t not in self.closed]

    def titles_width(self) -> int:
        """The width the tab bar needs for every shown pane's title in full: as tabs, what the
        tab bar itself says each tab needs (the style's margins and padding, a style sheet's
        too: a desktop style's tabs are wider than the text and Qt's common spacing, and
        were cut "Det… / Evaluat… / Tim…" at 1024x640); else an estimate from the font."""
        bar = self.tabs.tabBar()
        if self.mode == TABS and bar.count():
            return sum(bar.tabSizeHint(i).width() for i in range(bar.count()))
        space = self.style().pixelMetric(QStyle.PixelMetric.PM_TabBarTabHSpace, None, self)
        return sum(bar.fontMetrics().horizontalAdvance(t) + space for t in self.shown_titles())

    def _rearrange(self) -> None:
        empty = not self.shown_titles()
        if empty != self.empty:
            self.empty = empty
            self.setVisible(not empty)
            self.emptied.emit(empty)
        mode = self._fitting_mode() if self.isVisible() else self.mode or STACKED
        self._arrange(mode, force=True)

    def bring_forward(self, title: str) -> None:
        """Make the pane the current tab (as tabs; one above the other, it is in view)."""
        for i in range(self.tabs.count()):
            if self.tabs.tabText(i) == title:
                self.tabs.setCurrentIndex(i)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        """What the tabs need, their titles in full: too short for the panes one above the
        other, they become tabs (the stacked arrangement does not set the minimum). Hidden
        panes take no room."""
        titles = self.shown_titles()
        shown = [w for t, w in self.panes if t in titles] or [self.panes[0][1]]
        hints = [w.minimumSizeHint() for w in shown]
        tab_bar = self.tabs.tabBar().sizeHint().height()
        width = max(h.width() for h in hints)
        if self.mode == TABS:  # every tab's title in full
            width = max(width, self.titles_width() + 4)
        return QSize(width, max(h.height() for h in hints) + tab_bar)

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        super().resizeEvent(event)
        self._arrange(self._fitting_mode())

    def _fitting_mode(self) -> str:
        """One above the other when there is height for every shown pane, else tabs."""
        shown = len(self.shown_titles())
        needed = self.min_stacked_height * max(2, shown) // 2
        return STACKED if self.height() >= needed else TABS

    def _arrange(self, mode: str, force: bool = False) -> None:
        if mode == self.mode and not force:
            return
        self.mode = mode
        current = self.tabs.tabText(self.tabs.currentIndex()) if self.tabs.count() else ""
        self.tabs.clear()
        for title, widget in self.panes:
            box = self.boxes[title]
            shown = title not in self.hidden and title not in self.closed
            if mode == STACKED or not shown:
                box.layout().addWidget(widget, 1)  # (takes it back from the tabs)
                box.setVisible(shown and mode == STACKED)
                widget.setVisible(shown)
            else:  # the tab widget shows and hides its pages itself
                box.setVisible(False)
                self.tabs.addTab(widget, title)
        if mode == STACKED:
            self.splitter.setSizes([400] + [500] * (len(self.panes) - 1))
        for i in range(self.tabs.count()):
            if self.tabs.tabText(i) == current:
                self.tabs.setCurrentIndex(i)
        self._stack.setCurrentWidget(self.splitter if mode == STACKED else self.tabs)
        self.updateGeometry()  # the minimum width: the tab titles in full (minimumSizeHint)
