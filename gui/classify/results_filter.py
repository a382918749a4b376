"""The filtered, sorted window onto a :class:`ResultsModel` that the grid shows.

A small hand-made proxy instead of ``QSortFilterProxyModel``: with 20,000 rows, Python
``lessThan`` callbacks make every re-sort take seconds, while sorting a list of row numbers
with a key function takes milliseconds. New rows of a running batch are inserted in place
(one ``beginInsertRows`` per batch when the order is the arrival order).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt

from ..widgets.result_row import ResultRow
from .results_model import ResultsModel

SORT_KEYS = {
    "order": "Run order",
    "name": "File name",
    "label": "Label",
    "confidence": "Confidence",
    "time": "Time per image",
}

_Index = QModelIndex | QPersistentModelIndex


@dataclass(slots=True)
class Filter:
    label: str | None = None  # only this effective label
    min_conf: float = 0.0
    max_conf: float = 1.0
    text: str = ""  # case-insensitive part of the file name
    errors_only: bool = False
    disagreements_only: bool = False  # labels that differ from their folder's class

    def active(self) -> bool:
        return (
            self.label is not None
            or self.min_conf > 0.0
            or self.max_conf < 1.0
            or bool(self.text)
            or self.errors_only
            or self.disagreements_only
        )

    def accepts(self, r: ResultRow) -> bool:
        if self.disagreements_only and not r.disagrees:
            return False
        if self.errors_only:
            if r.ok:
                return False
        elif self.label is not None and r.label != self.label:
            return False
        if (self.min_conf > 0.0 or self.max_conf < 1.0) and not self.errors_only:
            c = r.pred.confidence
            if c is None or not (self.min_conf <= c <= self.max_conf):
                return False
        return not (self.text and self.text not in r.name.lower())


def _key(sort: str, r: ResultRow) -> tuple:
    if sort == "name":
        return (r.name.lower(), r.order)
    if sort == "label":
        return (r.label is None, (r.label or "").lower(), r.order)
    if sort == "confidence":
        c = r.pred.confidence
        return (c is None, c if c is not None else 0.0, r.order)
    if sort == "time":
        return (r.total_ms, r.order)
    return (r.order,)


class ResultsView(QAbstractListModel):
    """Rows of ``source`` that pass :attr:`filter`, ordered by :attr:`sort_key`."""

    def __init__(self, source: ResultsModel, parent=None):
        super().__init__(parent)
        self.source = source
        self.filter = Filter()
        self.sort_key = "order"
        self.descending = False
        self._map: list[int] = []  # view row -> source row
        self._keys: list[tuple] = []  # sort keys of _map (ascending order), for bisect
        # A fixed list of rows in a fixed order (images like one, a lasso on the map), shown
        # instead of the filtered, sorted window until the filter or the order changes.
        self.pinned_title: str | None = None
        self.pinned_order = ""  # the order of the pinned rows, for the sort box ("Similarity")
        source.rowsInserted.connect(self._on_inserted)
        source.modelReset.connect(self._on_reset)
        source.dataChanged.connect(self._on_changed)

    # -- Qt model ----------------------------------------------------------------------------
    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._map)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._map):
            return None
        return self.source.row_data(self._map[index.row()], role)

    def row(self, view_row: int) -> ResultRow:
        """The result shown at ``view_row``: the delegate reads the row object directly, one
        Python call instead of five ``index.data(role)`` round trips through QVariant."""
        return self.source.row_at(self._map[view_row])

    def source_row(self, view_row: int) -> int:
        return self._map[view_row]

    def view_row(self, source_row: int) -> int | None:
        try:
            return self._map.index(source_row)
        except ValueError:
            return None

    def source_rows(self) -> list[int]:
        return list(self._map)

    # -- changing the filter or order ------------------------------------------------------
    def set_filter(self, flt: Filter) -> None:
        self.filter = flt
        self.pinned_title = None
        self.refresh()

    def pin(self, source_rows: list[int], title: str, order: str = SORT_KEYS["order"]) -> None:
        """Show exactly ``source_rows``, in that order ("Similar to cat_12.jpg", ``order``
        "Similarity"), whatever the filter and order, until :meth:`set_filter` or
        :meth:`set_sort` (the bar's "Show all")."""
        self.pinned_title, self.pinned_order = title, order
        self.beginResetModel()
        self._map, self._keys = list(source_rows), []
        self.endResetModel()

    def set_sort(self, key: str, descending: bool = False) -> None:
        if key not in SORT_KEYS:
            raise ValueError(f"unknown sort key {key!r}")
        self.sort_key, self.descending = key, descending
        self.pinned_title = None
        self.refresh()

    def _sort_value(self, src: int) -> tuple:
        k = _key(self.sort_key, self.source.row_at(src))
        return tuple(_Neg(x) for x in k) if self.descending else k

    def refresh(self) -> None:
        """Recompute the whole window (filter or order changed)."""
        if self.pinned_title is not None:
            return
        rows = self.source.rows
        flt = self.filter
        keep = (
            [i for i, r in enumerate(rows) if flt.accepts(r)]
            if flt.active()
            else list(range(len(rows)))
        )
        if self.sort_key != "order" or self.descending:
            keep.sort(key=self._sort_value)
        self.beginResetModel()
        self._map = keep
        self._keys = [self._sort_value(i) for i in keep] if self.sort_key != "order" else []
        self.endResetModel()

    # -- following the source ----------------------------------------------------------------
    def _on_reset(self) -> None:
        self.pinned_title = None  # (its rows are gone)
        self.refresh()

    def _on_inserted(self, _parent, first: int, last: int) -> None:
        if self.pinned_title is not None:  # (the rows a pin shows are fixed)
            return
        rows = self.source.rows
        flt = self.filter
        new = [i for i in range(first, last + 1) if not flt.active() or flt.accepts(rows[i])]
        if not new:
            return
        if self.sort_key == "order" and not self.descending:
            start = len(self._map)
            self.beginInsertRows(QModelIndex(), start, start + len(new) - 1)
            self._map.extend(new)
            self.endInsertRows()
            return
        if self.sort_key == "order":  # newest first
            self.beginInsertRows(QModelIndex(), 0, len(new) - 1)
            self._map[:0] = reversed(new)
            self.endInsertRows()
            return
        for src in new:
            key = self._sort_value(src)
            pos = bisect.bisect_right(self._keys, key)
            self.beginInsertRows(QModelIndex(), pos, pos)
            self._keys.insert(pos, key)
            self._map.insert(pos, src)
            self.endInsertRows()

    def _on_changed(self, top: QModelIndex, bottom: QModelIndex, _roles=()) -> None:
        flt = self.filter
        affects_layout = flt.label is not None or flt.disagreements_only or self.sort_key == "label"
        if affects_layout and self.pinned_title is None:
            self.refresh()
            return
        if self._map:  # the view repaints only what is visible
            self.dataChanged.emit(self.index(0), self.index(len(self._map) - 1))


class _Neg:
    """Reverses the order of one sort-key component (strings included)."""

    __slots__ = ("v",)

    def __init__(self, v):
        self.v = v

    def __lt__(self, other: _Neg) -> bool:
        return other.v < self.v

    def __eq__(self, other) -> bool:
        return isinstance(other, _Neg) and other.v == self.v

    def __hash__(self) -> int:
        return hash(self.v)
