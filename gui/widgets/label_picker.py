"""The label picker: choose one of the model's classes for the selected images.

Typing only filters the list; it never makes a label. A class the model does not know comes
only from the explicit "New class…" button, which asks for the name in its own step and
takes an existing class when the name matches one but for case or spaces, so a typo can
no longer quietly become a new class.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

LabelRole = Qt.ItemDataRole.UserRole


def ask_new_class_name(parent: QWidget) -> str | None:
    """The name of a new class, typed in a dialog of its own; None if cancelled."""
    name, ok = QInputDialog.getText(parent, "New class", "Name of the new class:")
    return name.strip() if ok and name.strip() else None


def same_name(a: str, b: str) -> bool:
    """Two labels a person would call the same (case and surrounding spaces aside)."""
    return a.strip().casefold() == b.strip().casefold()


class LabelPicker(QDialog):
    """A filterable list of labels (the number keys 1-9 are shown beside the first nine) and
    an explicit "New class…". :meth:`chosen` is the picked label after ``exec()``."""

    def __init__(
        self,
        labels: Sequence[str],
        current: str = "",
        count: int = 1,
        parent: QWidget | None = None,
        ask_name: Callable[[QWidget], str | None] = ask_new_class_name,
    ):
        super().__init__(parent)
        self.setWindowTitle("Label")
        self.labels = list(dict.fromkeys(labels))
        self.ask_name = ask_name
        self._chosen: str | None = None
        what = "this image" if count == 1 else f"the {count:,} selected images"
        self.prompt = QLabel(f"Label for {what}:")
        self.filter = QLineEdit(placeholderText="Type to find a class")
        self.filter.setClearButtonEnabled(True)
        self.list = QListWidget()
        for i, label in enumerate(self.labels):
            key = f"{i + 1}   " if i < 9 else "     "
            item = QListWidgetItem(f"{key}{label}")
            item.setData(LabelRole, label)
            self.list.addItem(item)
        self.none_found = QLabel("No class matches. Use “New class…” to add one.")
        self.none_found.setObjectName("hint")
        self.none_found.setVisible(False)
        self.new_button = QPushButton("New class…")
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.addButton(self.new_button, QDialogButtonBox.ButtonRole.ActionRole)
        lay = QVBoxLayout(self)
        lay.addWidget(self.prompt)
        lay.addWidget(self.filter)
        lay.addWidget(self.list, 1)
        lay.addWidget(self.none_found)
        lay.addWidget(self.buttons)
        self.filter.textChanged.connect(self._apply_filter)
        self.filter.returnPressed.connect(self._accept_current)
        self.list.itemActivated.connect(lambda _item: self._accept_current())
        self.list.currentRowChanged.connect(lambda _row: self._sync_ok())
        self.buttons.accepted.connect(self._accept_current)
        self.buttons.rejected.connect(self.reject)
        self.new_button.clicked.connect(self.new_class)
        self.filter.installEventFilter(self)
        start = next((i for i, lbl in enumerate(self.labels) if lbl == current), 0)
        self.list.setCurrentRow(start if self.labels else -1)
        self._sync_ok()
        self.resize(340, 420)

    def chosen(self) -> str | None:
        return self._chosen

    def current_label(self) -> str | None:
        item = self.list.currentItem()
        return item.data(LabelRole) if item is not None and not item.isHidden() else None

    def _apply_filter(self, text: str) -> None:
        needle = text.strip().casefold()
        first = None
        for i in range(self.list.count()):
            item = self.list.item(i)
            hidden = bool(needle) and needle not in item.data(LabelRole).casefold()
            item.setHidden(hidden)
            if not hidden and first is None:
                first = i
        # The best match first: a class that starts with the text beats one that contains it.
        starts = next(
            (
                i
                for i in range(self.list.count())
                if not self.list.item(i).isHidden()
                and self.list.item(i).data(LabelRole).casefold().startswith(needle)
            ),
            first,
        )
        self.list.setCurrentRow(starts if starts is not None else -1)
        self.none_found.setVisible(first is None)
        self._sync_ok()

    def _sync_ok(self) -> None:
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(self.current_label() is not None)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt API)
        """Up and Down in the filter box move through the list."""
        if obj is self.filter and event.type() == event.Type.KeyPress:
            step = {Qt.Key.Key_Up: -1, Qt.Key.Key_Down: 1}.get(event.key())
            if step is not None:
                self._step(step)
                return True
        return super().eventFilter(obj, event)

    def _step(self, step: int) -> None:
        rows = [i for i in range(self.list.count()) if not self.list.item(i).isHidden()]
        if not rows:
            return
        here = self.list.currentRow()
        pos = rows.index(here) + step if here in rows else 0
        self.list.setCurrentRow(rows[max(0, min(len(rows) - 1, pos))])

    def _accept_current(self) -> None:
        label = self.current_label()
        if label is None:  # typed text matches nothing: it is not a label, say so
            self.none_found.setVisible(True)
            return
        self._chosen = label
        self.accept()

    def new_class(self) -> str | None:
        """Ask for a new class's name; a name that matches a known class takes that class."""
        name = self.ask_name(self)
        if not name:
            return None
        known = next((lbl for lbl in self.labels if same_name(lbl, name)), None)
        self._chosen = known or name
        self.accept()
        return self._chosen
