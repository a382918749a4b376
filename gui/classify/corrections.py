"""Undo and redo of corrections: every relabelling is one step on a QUndoStack.

A step remembers, per result row, the correction before and after (None: the model's own
label), and applies them through :meth:`ResultsModel.set_corrections`, so undo puts back
exactly what was there, whatever mix of corrections the rows had. The history is emptied
when the results are (a new run); rows of a queued run are appended, so row numbers stay
valid for the whole history.
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from .results_model import ResultsModel


class Relabel(QUndoCommand):
    """Set corrections on some rows (``after``), undone by putting ``before`` back."""

    def __init__(
        self,
        results: ResultsModel,
        before: dict[int, str | None],
        after: dict[int, str | None],
        text: str,
    ):
        super().__init__(text)
        self.results, self.before, self.after = results, before, after

    def redo(self) -> None:
        self.results.set_corrections(self.after)

    def undo(self) -> None:
        self.results.set_corrections(self.before)


class CorrectionHistory(QObject):
    """The corrections made in this session, undoable one step at a time. ``stepped`` says
    what an undo or a redo did ("Undone", "label 3 images 'cat'"), whatever started it."""

    stepped = Signal(str, str)  # "Undone" or "Redone", the step's text

    def __init__(self, results: ResultsModel, parent=None):
        super().__init__(parent)
        self.results = results
        self.stack = QUndoStack(self)
        self._index = 0  # the stack's index as last seen
        self._pushing = False
        results.modelReset.connect(self.stack.clear)
        self.stack.indexChanged.connect(self._on_index)

    def _on_index(self, index: int) -> None:
        before, self._index = self._index, index
        if self._pushing or self.stack.count() == 0:
            return
        if index < before:
            self.stepped.emit("Undone", self.stack.text(index))
        elif index > before:
            self.stepped.emit("Redone", self.stack.text(index - 1))

    def relabel(self, rows: Iterable[int], label: str | None) -> int:
        """Give ``rows`` the label ``label`` (None: their predicted labels back) as one undoable
        step. Failed images and rows already labelled so are left out. Returns how many
        rows changed."""
        before, after = {}, {}
        for i in sorted(set(rows)):
            r = self.results.row_at(i)
            if not r.ok:
                continue
            new = None if label is None or label == r.pred.label else label
            if new != r.corrected:
                before[i], after[i] = r.corrected, new
        if not after:
            return 0
        n = len(after)
        what = f"{n:,} images" if n > 1 else self.results.row_at(next(iter(after))).name
        text = f"label {what} '{label}'" if label is not None else f"remove the label of {what}"
        self._pushing = True
        try:
            self.stack.push(Relabel(self.results, before, after, text))
        finally:
            self._pushing = False
        return n

    def undo(self) -> None:
        self.stack.undo()

    def redo(self) -> None:
        self.stack.redo()
