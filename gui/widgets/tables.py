"""Small read-only tables (class counts, per-class metrics) and lists of thumbnails shared by
the tabs."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QListView,
    QListWidget,
    QTableWidget,
    QTableWidgetItem,
)


def thumbnail_list(side: int, cell: QSize) -> QListWidget:
    """A list of thumbnails ``side`` pixels square with their captions, laid out in ``cell``
    sized cells that wrap with the width (the items stay where they are put)."""
    view = QListWidget()
    view.setViewMode(QListView.ViewMode.IconMode)
    view.setIconSize(QSize(side, side))
    view.setGridSize(cell)
    view.setResizeMode(QListView.ResizeMode.Adjust)
    view.setMovement(QListView.Movement.Static)
    view.setWordWrap(True)
    return view


def read_only_table(headers: list[str]) -> QTableWidget:
    """A table with these column headers: no row numbers, no editing, no selection; the first
    column stretches, the others fit their contents."""
    t = QTableWidget(0, len(headers))
    t.setHorizontalHeaderLabels(headers)
    t.verticalHeader().setVisible(False)
    t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    t.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
    t.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
    for c in range(1, len(headers)):
        t.horizontalHeader().setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
    return t


def table_item(value, align_right: bool = True) -> QTableWidgetItem:
    """A cell showing ``str(value)``; numbers are right-aligned."""
    item = QTableWidgetItem(str(value))
    if align_right:
        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    return item


METRICS_HEADERS = ["Class", "Precision", "Recall", "F1", "Images"]


def fill_metrics_table(table: QTableWidget, per_class: Sequence) -> None:
    """One row per core.results.metrics.ClassMetrics: name, precision, recall, F1, images."""
    table.setRowCount(len(per_class))
    for row, c in enumerate(per_class):
        for k, value in enumerate(
            (c.name, f"{c.precision:.3f}", f"{c.recall:.3f}", f"{c.f1:.3f}", c.support)
        ):
            table.setItem(row, k, table_item(value, k > 0))
