"""The results of a run as a Qt list model: one row per image, corrections kept beside.

:class:`ResultsModel` holds every :class:`core.inference.Prediction` (thumbnail bytes stripped:
thumbnails live in the bounded cache of :mod:`gui.thumbnails`) plus the label a person gave it
by hand. :class:`ResultsView` (in :mod:`gui.results_filter`) is the filtered, sorted window the
grid shows.
"""

from __future__ import annotations

import dataclasses
import html
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt, Signal

# Roles the delegate, the detail pane and the filter read.
PathRole = Qt.ItemDataRole.UserRole + 1
LabelRole = Qt.ItemDataRole.UserRole + 2  # effective label: the correction if any, else predicted
PredictedLabelRole = Qt.ItemDataRole.UserRole + 3
ConfidenceRole = Qt.ItemDataRole.UserRole + 4
ErrorRole = Qt.ItemDataRole.UserRole + 5
CorrectedRole = Qt.ItemDataRole.UserRole + 6  # bool
TopkRole = Qt.ItemDataRole.UserRole + 7
TimingRole = Qt.ItemDataRole.UserRole + 8  # (decode_ms, infer_ms)
RowRole = Qt.ItemDataRole.UserRole + 9  # the ResultRow itself
SourceRowRole = Qt.ItemDataRole.UserRole + 10

_Index = QModelIndex | QPersistentModelIndex


@dataclass(slots=True)
class ResultRow:
    """One image's result: the core's prediction and an optional hand correction."""

    pred: Any  # core.inference.Prediction (thumbnail removed)
    order: int  # arrival order in this session
    corrected: str | None = None

    @property
    def path(self) -> str:
        return self.pred.path

    @property
    def name(self) -> str:
        return Path(self.pred.path).name

    @property
    def ok(self) -> bool:
        return self.pred.error is None

    @property
    def label(self) -> str | None:
        return self.corrected if self.corrected is not None else self.pred.label

    @property
    def total_ms(self) -> float:
        return float(self.pred.decode_ms or 0.0) + float(self.pred.infer_ms or 0.0)


def _bar(score: float, width: int = 120) -> str:
    filled = max(1, int(round(score * width)))
    return (
        f'<table cellspacing="0" cellpadding="0"><tr>'
        f'<td width="{filled}" bgcolor="#3b82f6" height="6"></td>'
        f'<td width="{width - filled}" bgcolor="#e5e7eb" height="6"></td></tr></table>'
    )


def describe_html(row: ResultRow) -> str:
    """Rich-text details for the tooltip and the detail pane: path, top-5 with bars, timings."""
    p = row.pred
    parts = [f"<b>{html.escape(row.name)}</b><br><small>{html.escape(p.path)}</small>"]
    if not row.ok:
        parts.append(
            f'<p style="color:#b91c1c"><b>Could not be read:</b> {html.escape(p.error)}</p>'
        )
    else:
        if row.corrected is not None:
            parts.append(
                f"<p>Label <b>{html.escape(row.corrected)}</b> (set by hand; the model said "
                f"{html.escape(str(p.label))})</p>"
            )
        rows = "".join(
            f"<tr><td>{html.escape(str(lbl))}&nbsp;</td><td>{_bar(float(s))}</td>"
            f"<td align='right'>&nbsp;{float(s) * 100:.1f}%</td></tr>"
            for lbl, s in p.topk
        )
        parts.append(f"<table>{rows}</table>")
    parts.append(f"<small>decode {p.decode_ms:.1f} ms · inference {p.infer_ms:.1f} ms</small>")
    return "".join(parts)


class ResultsModel(QAbstractListModel):
    """Every result of the current session, in arrival order."""

    corrections_changed = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self._rows: list[ResultRow] = []
        self._class_names: list[str] = []
        # Kept up to date as rows arrive and labels change: counting 50,000 rows every few
        # hundred ms during a run stalled the window for up to 100 ms.
        self._counts: Counter = Counter()
        self._errors = 0

    # -- reading -----------------------------------------------------------------------------
    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802 (Qt API)
        return 0 if parent.isValid() else len(self._rows)

    def row_at(self, i: int) -> ResultRow:
        return self._rows[i]

    @property
    def rows(self) -> Sequence[ResultRow]:
        return self._rows

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        return self.row_data(index.row(), role)

    def row_data(self, i: int, role: int) -> Any:
        r = self._rows[i]
        p = r.pred
        if role == Qt.ItemDataRole.DisplayRole:
            return r.label if r.ok else "Failed"
        if role == PathRole:
            return p.path
        if role == LabelRole:
            return r.label
        if role == PredictedLabelRole:
            return p.label
        if role == ConfidenceRole:
            return p.confidence
        if role == ErrorRole:
            return p.error
        if role == CorrectedRole:
            return r.corrected is not None
        if role == TopkRole:
            return p.topk
        if role == TimingRole:
            return (p.decode_ms, p.infer_ms)
        if role == RowRole:
            return r
        if role == SourceRowRole:
            return i
        if role == Qt.ItemDataRole.ToolTipRole:
            return describe_html(r)
        return None

    @property
    def class_names(self) -> list[str]:
        """The classes of the model the results come from, in its order."""
        return list(self._class_names)

    # -- changing ----------------------------------------------------------------------------
    def set_class_names(self, names: Iterable[str]) -> None:
        self._class_names = list(names)

    def add_predictions(self, preds: Iterable[Any]) -> None:
        """Append one batch with a single ``beginInsertRows`` (thumbnails already taken out)."""
        new = [
            ResultRow(
                dataclasses.replace(p, thumbnail=None) if getattr(p, "thumbnail", None) else p,
                len(self._rows) + i,
            )
            for i, p in enumerate(preds)
        ]
        if not new:
            return
        for r in new:
            if r.ok:
                self._counts[r.label] += 1
            else:
                self._errors += 1
        first = len(self._rows)
        self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
        self._rows.extend(new)
        self.endInsertRows()

    def clear(self) -> None:
        self.beginResetModel()
        self._rows = []
        self._counts = Counter()
        self._errors = 0
        self.endResetModel()
        self.corrections_changed.emit()

    def set_label(self, source_rows: Iterable[int], label: str | None) -> int:
        """Correct the label of ``source_rows`` (None removes the correction). Failed images
        keep no label. Returns how many rows changed."""
        changes = {}
        for i in set(source_rows):
            r = self._rows[i]
            if r.ok:
                changes[i] = None if label is None or label == r.pred.label else label
        return len(self.set_corrections(changes))

    def set_corrections(self, changes: Mapping[int, str | None]) -> list[int]:
        """Set each row's correction exactly (None: back to the prediction; a label equal to
        the prediction counts as none). The primitive under set_label and undo/redo. Returns
        the rows that changed."""
        changed = []
        for i in sorted(changes):
            r = self._rows[i]
            if not r.ok:
                continue
            new = changes[i]
            new = None if new == r.pred.label else new
            if new != r.corrected:
                self._count(r, -1)
                r.corrected = new
                self._count(r, +1)
                changed.append(i)
        if changed:  # one signal for the whole range: views repaint only what they show
            self.dataChanged.emit(self.index(changed[0]), self.index(changed[-1]))
            self.corrections_changed.emit()
        return changed

    def _count(self, r: ResultRow, delta: int) -> None:
        if r.label is None:
            return
        self._counts[r.label] += delta
        if self._counts[r.label] <= 0:
            del self._counts[r.label]

    def rename_paths(self, moved: dict[str, str]) -> int:
        """Files were moved (sorting, or undoing it): point their rows at the new paths."""
        changed = [i for i, r in enumerate(self._rows) if r.pred.path in moved]
        for i in changed:
            r = self._rows[i]
            r.pred = dataclasses.replace(r.pred, path=moved[r.pred.path])
        if changed:
            self.dataChanged.emit(self.index(changed[0]), self.index(changed[-1]))
        return len(changed)

    # -- summaries ---------------------------------------------------------------------------
    def corrections(self) -> dict[str, str]:
        return {r.path: r.corrected for r in self._rows if r.corrected is not None}

    def predictions(self) -> list[Any]:
        return [r.pred for r in self._rows]

    def class_counts(self) -> Counter:
        """Images per effective label (failed images not counted)."""
        return Counter(self._counts)

    def error_count(self) -> int:
        return self._errors

    def known_labels(self) -> list[str]:
        """The model's class names, then any other label seen (hand-made or predicted)."""
        seen = dict.fromkeys(self._class_names)
        for r in self._rows:
            if r.label is not None:
                seen.setdefault(r.label)
        return list(seen)
