"""A label whose text changes are announced, so the main window's status bar can follow the
line where a tab says what it is doing."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel


class StatusLabel(QLabel):
    """A QLabel that emits ``changed(text)`` whenever its text is set."""

    changed = Signal(str)

    def setText(self, text: str) -> None:  # noqa: N802 (Qt API)
        super().setText(text)
        self.changed.emit(text)
