"""The results of a run as a Qt list model: one row per image, corrections kept beside.

:class:`ResultsModel` holds every :class:`core.runtime.inference.Prediction` (thumbnail bytes stripped:
thumbnails live in the bounded cache of :mod:`gui.thumbnails`) as a
:class:`~gui.widgets.result_row.ResultRow`: with the label a person gave it by hand, the model
that made it, and the class its folder names. It keeps, as rows arrive and change, the counts
the filters show and the evaluation on class-named folders (core.results.evaluation's tally), and marks
rows ``stale`` when the model loaded now is another one. :class:`ResultsView` (in
:mod:`gui.results_filter`) is the filtered, sorted window the grid shows.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt, Signal

from ..widgets.result_row import ResultRow, describe_html

if TYPE_CHECKING:  # (imported by a run: the window opens without them)
    from ...core.models.loaded import ModelIdentity
    from ...core.results.evaluation import EvaluationReport, EvaluationTally

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


class ResultsModel(QAbstractListModel):
    """Every result of the current session, in arrival order."""

    corrections_changed = Signal()
    stale_changed = Signal(int)  # how many rows come from another model than the loaded one

    def __init__(self, parent=None):
        super().__init__(parent)
        self._rows: list[ResultRow] = []
        self._class_names: list[str] = []
        # Kept up to date as rows arrive and labels change: counting 50,000 rows every few
        # hundred ms during a run stalled the window for up to 100 ms.
        self._counts: Counter = Counter()
        self._errors = 0
        self._disagree = 0  # rows whose label differs from their folder's class
        self._corrected = 0  # rows with a correction
        self._stale = 0
        self._run_model: ModelIdentity | None = None  # the model the rows come from
        self._current_key: str | None = None  # the model loaded now (None: not known yet)
        self._tally: EvaluationTally | None = None
        self._carried: dict[str, str] = {}  # corrections waiting for their path's new row

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

    @property
    def run_model(self) -> ModelIdentity | None:
        """The model that made the results (None before a run says)."""
        return self._run_model

    def evaluation(self) -> EvaluationReport | None:
        """How the model's own labels compare with the class-named folders (None: no result
        has a ground truth), counted as the rows arrived."""
        return self._tally.report() if self._tally is not None else None

    def disagreement_count(self) -> int:
        """Rows whose label (the person's, else the model's) differs from their folder's."""
        return self._disagree

    def stale_count(self) -> int:
        return self._stale

    def correction_count(self) -> int:
        return self._corrected

    # -- changing ----------------------------------------------------------------------------
    def set_class_names(self, names: Iterable[str]) -> None:
        self._class_names = list(names)

    def set_run_model(self, model: ModelIdentity) -> None:
        """The model that makes the rows from now on (a run's first record says which)."""
        if self._run_model is None or self._run_model.key != model.key:
            from ...core.results.evaluation import EvaluationTally

            self._tally = EvaluationTally(model.class_names)
        self._run_model = model

    def set_current_model(self, model: ModelIdentity | None) -> None:
        """The model loaded now: rows made by another one are marked ``stale``."""
        self._current_key = model.key if model is not None else None
        changed = False
        for r in self._rows:
            stale = self._is_stale(r.model)
            changed = changed or stale != r.stale
            r.stale = stale
        self._stale = sum(r.stale for r in self._rows) if changed else self._stale
        if changed and self._rows:
            self.dataChanged.emit(self.index(0), self.index(len(self._rows) - 1))
        self.stale_changed.emit(self._stale)

    def _is_stale(self, model: ModelIdentity | None) -> bool:
        key = self._current_key
        return model is not None and key is not None and model.key != key

    def add_predictions(
        self, preds: Iterable[Any], truths: Sequence[str | None] | None = None
    ) -> None:
        """Append one batch with a single ``beginInsertRows`` (thumbnails already taken out, on
        the run's worker: gui.classify.run.ArrivedBatch);
        ``truths``: the class each image's folder names (evaluation mode), in order."""
        preds = list(preds)
        truths = truths if truths is not None else [None] * len(preds)
        model, stale = self._run_model, self._is_stale(self._run_model)
        new = []
        for i, (p, truth) in enumerate(zip(preds, truths, strict=True)):
            r = ResultRow(p, len(self._rows) + i, None, model, truth, stale)
            carried = self._carried.pop(p.path, None)
            if r.ok and carried is not None and carried != p.label:
                r.corrected = carried
            new.append(r)
        if not new:
            return
        for r in new:
            if r.ok:
                self._count(r, +1)
                if self._tally is not None:
                    self._tally.add(r.path, r.pred.label, r.truth)
            else:
                self._errors += 1
        self._stale += len(new) if stale else 0
        first = len(self._rows)
        self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
        self._rows.extend(new)
        self.endInsertRows()
        if any(r.corrected is not None for r in new):
            self.corrections_changed.emit()

    def clear(self, keep_corrections: bool = False) -> None:
        """Forget every result (``keep_corrections``: the person's labels come back on the rows
        of the same files as they arrive again: classifying again with another model)."""
        self._carried = self.corrections() if keep_corrections else {}
        self.beginResetModel()
        self._rows = []
        self._counts = Counter()
        self._errors = self._disagree = self._stale = self._corrected = 0
        self._run_model, self._tally = None, None
        self.endResetModel()
        self.corrections_changed.emit()
        self.stale_changed.emit(0)

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
        if r.disagrees:
            self._disagree += delta
        if r.corrected is not None:
            self._corrected += delta
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
