"""The misclassified images of a training, in the preview: step through them with the arrow
keys, and where the folder (not the model) is wrong, give the image its right class with a key
or the label picker: the file moves into that class's folder of the data set (on a worker
thread, through core.results.sorting: never overwriting, undoable with Ctrl+Z).
"""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QKeySequence

from ..file_tasks import move_to_class_task, undo_task
from ..widgets.actions import make_action
from ..widgets.label_picker import LabelPicker
from ..widgets.preview import PreviewDialog, make_preview
from ..widgets.workers import WorkerSlot

QUICK_LABELS = 9


class MisclassifiedReview(QObject):
    """Owns the preview of a training's misclassified images and the moves made from it."""

    moved = Signal(str, str)  # a file moved to another class folder: (old path, new path)

    def __init__(self, host, notify: Callable[[str], None], parent=None):
        super().__init__(parent or host)
        self.host, self.notify = host, notify
        self.items: list = []  # core.training.fine_tune.Misclassified, paths kept up to date
        self.class_names: list[str] = []
        self.moved_to: dict[int, str] = {}  # item -> the class it was moved to
        self.preview: PreviewDialog | None = None
        self.position = 0
        self._manifests: list[tuple[str, int]] = []  # undo: (manifest, item), newest last
        self._pending: tuple[int, str] | None = None  # the move on its way: (item, label)
        self.moving = WorkerSlot(self, on_finished=self._on_moved, on_failed=self._on_failed)
        self.act_undo = make_action(host, "Undo move", self.undo, QKeySequence("Ctrl+Z"), False)
        self.ask_label = self._pick  # tests replace it

    def set_result(self, items, class_names) -> None:
        self.items, self.class_names = list(items), list(class_names)
        self.moved_to.clear()
        self._manifests.clear()
        self.act_undo.setEnabled(False)
        if self.preview is not None:
            self.preview.close()

    # -- the preview -------------------------------------------------------------------------
    def open(self, index: int) -> PreviewDialog | None:
        if not 0 <= index < len(self.items):
            return None
        if self.preview is None:
            self.preview = make_preview(
                self.host,
                lambda d: self.show(self.position + d),
                self._label_key,
                self._pick_label,
                self._closed,
                [self.act_undo],
            )
        self.show(index)
        self.preview.show()
        self.preview.raise_()
        return self.preview

    def _closed(self, _result: int) -> None:
        self.preview = None

    def show(self, index: int) -> None:
        if self.preview is None or not self.items:
            return
        self.position = max(0, min(len(self.items) - 1, index))
        m = self.items[self.position]
        self.preview.show_item(
            m.path, self.details_html(self.position), self.position, len(self.items), self._keys()
        )

    def details_html(self, index: int) -> str:
        m = self.items[index]
        text = (  # (the preview shows the file's name and folder above)
            f"<p>In the folder <b>{html.escape(m.true_label)}</b>; the model says "
            f"<b>{html.escape(m.predicted)}</b> ({m.confidence:.0%}).</p>"
        )
        if index in self.moved_to:
            return text + (
                f"<p>Moved to <b>{html.escape(self.moved_to[index])}</b>. Train again to learn "
                "from it.</p>"
            )
        return text + (
            "<p>If the folder is wrong, give the image its right class: it moves into that "
            "class's folder.</p>"
        )

    def _keys(self) -> str:
        keys = " · ".join(
            f"<b>{i + 1}</b> {html.escape(n)}"
            for i, n in enumerate(self.class_names[:QUICK_LABELS])
        )
        return f"{keys} · <b>L</b> other class… · <b>←/→</b> previous/next · <b>Ctrl+Z</b> undo"

    def _label_key(self, key: int) -> None:
        if 1 <= key <= min(QUICK_LABELS, len(self.class_names)):
            self.move(self.position, self.class_names[key - 1])

    def _pick_label(self) -> None:
        if self.items:
            m = self.items[self.position]
            label = self.ask_label(m.true_label, self.class_names)
            if label is not None:
                self.move(self.position, label)

    def _pick(self, current: str, labels: list[str]) -> str | None:
        picker = LabelPicker(labels, current, parent=self.preview or self.host)
        return picker.chosen() if picker.exec() else None

    # -- moving ------------------------------------------------------------------------------
    def move(self, index: int, label: str) -> bool:
        """Move item ``index`` into the folder of ``label`` (its folder's class already: just
        go on to the next)."""
        m = self.items[index]
        if label == m.true_label or self.moving.busy:
            self.show(index + 1)
            return False
        self._pending = (index, label)
        self.moving.start(move_to_class_task, m.path, label)
        return True

    def undo(self) -> bool:
        """Put the last moved image back in its folder."""
        if not self._manifests or self.moving.busy:
            return False
        manifest, index = self._manifests.pop()
        self._pending = (index, self.items[index].true_label)
        self.moving.start(undo_task, manifest)
        self.act_undo.setEnabled(False)
        return True

    def _on_moved(self, report) -> None:
        index, label = self._pending
        self._pending = None
        if report is None or report.errors or not report.placed:
            self.notify(f"Not moved: {'; '.join(report.errors) if report else 'cancelled'}")
            return
        old, new = report.placed[0]
        m = self.items[index]
        self.items[index] = type(m)(new, m.true_label, m.predicted, m.confidence)
        if report.mode == "undo":
            self.moved_to.pop(index, None)
            self.notify(f"{Path(new).name} is back in {Path(new).parent.name}/.")
        else:
            self.moved_to[index] = label
            self._manifests.append((str(report.manifest), index))
            self.notify(f"Moved {Path(new).name} to {label}/ (Ctrl+Z puts it back).")
        self.act_undo.setEnabled(bool(self._manifests))
        self.moved.emit(old, new)
        if self.preview is not None:
            self.show(index + 1 if report.mode == "move" else index)

    def _on_failed(self, message: str) -> None:
        self._pending = None
        self.notify(message)

    def shutdown(self) -> None:
        self.moving.shutdown()
        if self.preview is not None:
            self.preview.close()
