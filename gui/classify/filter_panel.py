"""Filter and sort controls for the grid, as one compact bar above it: class (with counts),
confidence range, file name text, errors only (while some image failed), disagreements with
the folders' classes (in evaluation mode), the order; and at its right end, always in view,
how many of the results are shown, with "Show all"."""

from __future__ import annotations

import html
from collections import Counter

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QToolButton,
    QWidget,
)

from ..widgets.flow_layout import FlowLayout
from .results_filter import SORT_KEYS, Filter


def _group(*widgets: QWidget) -> QWidget:
    """Widgets kept together on one line of the bar."""
    box = QWidget()
    lay = QHBoxLayout(box)
    lay.setContentsMargins(0, 0, 0, 0)
    lay.setSpacing(3)
    for w in widgets:
        lay.addWidget(w)
    return box


SORT_TIP = "The order of the tiles"
PINNED_ORDER_TIP = "The tiles shown keep this order: Show all goes back to sorting them"


class FilterPanel(QFrame):
    """The bar of filter and sort controls (one line where the width allows, else wrapped)."""

    filter_changed = Signal(object)  # Filter
    sort_changed = Signal(str, bool)  # key, descending

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("filterBar")
        self.label = QComboBox(toolTip="Only the images with this label")
        self.label.addItem("All classes", "")  # "" rather than None: see gui.pyside_fixes
        self.min_conf = QSpinBox(minimum=0, maximum=100, suffix=" %", value=0)
        self.max_conf = QSpinBox(minimum=0, maximum=100, suffix=" %", value=100)
        for spin in (self.min_conf, self.max_conf):
            spin.setToolTip("Only the images whose confidence is in this range")
            spin.setButtonSymbols(QSpinBox.ButtonSymbols.NoButtons)  # typed, or the wheel
            spin.setFixedWidth(spin.fontMetrics().horizontalAdvance("100 %") + 18)
            spin.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.text = QLineEdit(placeholderText="Name contains…")
        self.text.setToolTip("Only the images whose file name contains this text")
        self.text.setClearButtonEnabled(True)
        self.text.setFixedWidth(110)
        self.errors_only = QCheckBox("Failed to load", visible=False)
        self.errors_only.setToolTip("Only the images that could not be read")
        self.disagreements_only = QCheckBox("Only disagreements", visible=False)
        self.disagreements_only.setToolTip(
            "Images whose label differs from the class their folder is named after"
        )
        self.sort = QComboBox(toolTip=SORT_TIP)
        self._sorted_by = 0  # the sort chosen, while the box shows a pinned set's order
        for key, name in SORT_KEYS.items():
            self.sort.addItem(name, key)
        self.descending = QToolButton(checkable=True, text="↑", toolTip="Descending order")
        for combo in (self.label, self.sort):
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            combo.setMinimumContentsLength(10)
        # Overlay mode's button (gui.classify.tile_heat gives it its action: Shift+H)
        self.heat_button = QToolButton()
        self.shown = QLabel("")
        self.shown.setObjectName("hint")
        self.reset = QPushButton("Show all", flat=True, toolTip="Clear every filter")
        self.reset.setObjectName("link")
        shown = _group(self.shown, QLabel("·", objectName="hint"), self.reset)
        shown.layout().setAlignment(Qt.AlignmentFlag.AlignRight)
        flow = FlowLayout(self)
        flow.setContentsMargins(0, 0, 0, 0)
        flow.addWidget(self.label)
        flow.addWidget(_group(QLabel("Confidence"), self.min_conf, QLabel("–"), self.max_conf))
        flow.addWidget(self.text)
        flow.addWidget(self.errors_only)
        flow.addWidget(self.disagreements_only)
        flow.addWidget(_group(QLabel("Sort by"), self.sort, self.descending))
        flow.addWidget(self.heat_button)
        flow.add_stretch_widget(shown)

        self._typing = QTimer(self, singleShot=True, interval=200)
        self._typing.timeout.connect(self._emit_filter)
        self.text.textChanged.connect(self._typing.start)
        self.label.currentIndexChanged.connect(self._emit_filter)
        self.min_conf.valueChanged.connect(self._emit_filter)
        self.max_conf.valueChanged.connect(self._emit_filter)
        self.errors_only.toggled.connect(self._on_errors_only)
        self.disagreements_only.toggled.connect(self._emit_filter)
        self.sort.currentIndexChanged.connect(self._emit_sort)
        self.descending.toggled.connect(self._emit_sort)
        self.reset.clicked.connect(self.clear)

    def current_filter(self) -> Filter:
        return Filter(
            label=self.label.currentData() or None,
            min_conf=self.min_conf.value() / 100,
            max_conf=self.max_conf.value() / 100,
            text=self.text.text().strip().lower(),
            errors_only=self.errors_only.isChecked(),
            disagreements_only=self.disagreements_only.isChecked(),
        )

    def set_label(self, label: str | None) -> None:
        i = self.label.findData(label or "")
        if i >= 0:
            self.label.setCurrentIndex(i)

    def set_sort(self, key: str, descending: bool = False) -> None:
        self.sort.setCurrentIndex(max(0, self.sort.findData(key)))
        self.descending.setChecked(descending)

    def clear(self) -> None:
        widgets = (
            self.label,
            self.min_conf,
            self.max_conf,
            self.text,
            self.errors_only,
            self.disagreements_only,
        )
        for w in widgets:
            w.blockSignals(True)
        self.label.setCurrentIndex(0)
        self.min_conf.setValue(0)
        self.max_conf.setValue(100)
        self.text.clear()
        self.errors_only.setChecked(False)
        self.disagreements_only.setChecked(False)
        self.label.setEnabled(True)
        for w in widgets:
            w.blockSignals(False)
        self._emit_filter()

    def update_counts(self, counts: Counter, total: int, errors: int) -> None:
        """Refill the class list with per-class counts, keeping the current choice."""
        current = self.label.currentData() if self.label.currentIndex() >= 0 else ""
        self.label.blockSignals(True)
        self.label.clear()
        self.label.addItem(f"All classes ({total:,})", "")
        for name, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
            self.label.addItem(f"{name} ({n:,})", name)
        if current and self.label.findData(current) < 0:
            self.label.addItem(f"{current} (0)", current)
        self.label.setCurrentIndex(max(0, self.label.findData(current)))
        self.label.blockSignals(False)
        self.errors_only.setText(f"Failed to load ({errors:,})" if errors else "Failed to load")
        self.errors_only.setVisible(bool(errors) or self.errors_only.isChecked())

    def set_total(self, total: int) -> None:
        """How many results there are, at once (the per-class counts follow later)."""
        self.label.setItemText(0, f"All classes ({total:,})")

    def set_disagreements(self, count: int | None) -> None:
        """How many labels disagree with their folder's class; None: no evaluation (the
        choice is hidden, and off)."""
        box = self.disagreements_only
        if count is None:
            box.setVisible(False)
            if box.isChecked():
                box.setChecked(False)  # (the filter follows)
            return
        box.setText(f"Only disagreements ({count:,})")
        box.setVisible(True)

    def set_shown(self, shown: int, total: int, title: str | None = None, order: str = "") -> None:
        """How many of the results the grid shows; ``title``: what a pinned set of rows is
        ("Similar to cat_12.jpg"), said first, and ``order`` the order its rows are in."""
        self._show_pinned_order(order if title is not None else None)
        if title is not None:
            self.shown.setText(f"<b>{html.escape(title)}</b> · {shown:,} of {total:,}")
            return
        self.shown.setText(
            f"Showing {shown:,} of {total:,}" if shown != total else f"{total:,} images"
        )

    def _show_pinned_order(self, order: str | None) -> None:
        """While the grid shows a pinned set of rows, the sort box says their order
        ("Similarity"), greyed: they keep it until "Show all". ``None``: the sort again."""
        sort, pinned = self.sort, self.sort.currentIndex() < 0
        sort.blockSignals(True)  # (choosing a sort would unpin the rows)
        if order is None and pinned:
            sort.setCurrentIndex(self._sorted_by)
        elif order is not None:
            self._sorted_by = self._sorted_by if pinned else sort.currentIndex()
            sort.setPlaceholderText(order)
            sort.setCurrentIndex(-1)
        sort.blockSignals(False)
        for w in (sort, self.descending):
            w.setEnabled(order is None)
        sort.setToolTip(PINNED_ORDER_TIP if order is not None else SORT_TIP)

    def _on_errors_only(self, on: bool) -> None:
        self.label.setEnabled(not on)
        self._emit_filter()

    def _emit_filter(self) -> None:
        if self.min_conf.value() > self.max_conf.value():
            self.max_conf.blockSignals(True)
            self.max_conf.setValue(self.min_conf.value())
            self.max_conf.blockSignals(False)
        self.filter_changed.emit(self.current_filter())

    def _emit_sort(self) -> None:
        self.sort_changed.emit(self.sort.currentData(), self.descending.isChecked())
        self.descending.setText("↓" if self.descending.isChecked() else "↑")
