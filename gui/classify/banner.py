"""The message line above the grid: one message at a time, green (done), amber (a warning)
or red (an error), with what it offers (an "Undo" button) and a close button. Errors and
warnings stay until closed; other messages go after 12 s."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QLabel, QPushButton, QToolButton

SHOWN_MS = 12_000


class Banner(QObject):
    """Shows messages in ``label``, with ``action_button`` for what a message offers and
    ``close_button`` to dismiss it."""

    def __init__(
        self, label: QLabel, action_button: QPushButton, close_button: QToolButton, parent=None
    ):
        super().__init__(parent)
        self.label, self.action_button, self.close_button = label, action_button, close_button
        self._action: Callable[[], object] | None = None
        self._timer = QTimer(self, singleShot=True, interval=SHOWN_MS)
        self._timer.timeout.connect(self.hide)
        close_button.clicked.connect(self.hide)
        action_button.clicked.connect(self._act)

    def show(
        self,
        text: str,
        error: bool = False,
        warning: bool = False,
        action: tuple[str, Callable[[], object]] | None = None,
    ) -> None:
        """Show ``text``; ``action``: a button (its text, what it does) offered beside it."""
        label = self.label
        label.setText(text)
        label.setProperty("error", error)
        label.setProperty("warning", warning and not error)
        label.style().unpolish(label)
        label.style().polish(label)
        label.setVisible(True)
        self.close_button.setVisible(True)
        self._action = action[1] if action else None
        self.action_button.setText(action[0] if action else "")
        self.action_button.setVisible(action is not None)
        if error or warning:
            self._timer.stop()
        else:
            self._timer.start()

    def hide(self) -> None:
        for w in (self.label, self.action_button, self.close_button):
            w.setVisible(False)
        self._action = None

    def _act(self) -> None:
        action = self._action
        self.hide()
        if action is not None:
            action()
