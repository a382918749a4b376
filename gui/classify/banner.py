"""The message line above the grid: one message at a time, green (done), amber (a warning)
or red (an error), with what it offers (an "Undo" button) and a close button. Errors and
warnings stay until closed; other messages go after 12 s."""

from __future__ import annotations

from collections.abc import Callable

from PySide6 import QtGui
from PySide6.QtCore import QObject, QSize, Qt, QTimer
from PySide6.QtWidgets import QLabel, QPushButton, QSizePolicy, QToolButton

QWIDGETSIZE_MAX = (1 << 24) - 1  # Qt's largest widget size

SHOWN_MS = 12_000
LINES = 2  # the most a message takes above the grid


def cut_words(text: str, most: int) -> str:
    """``text``, or its start and end with " … " between, at most about ``most`` characters,
    cut between words where there are any (a sentence reads on across the cut)."""
    if len(text) <= most:
        return text
    head, tail = text[: most // 2], text[len(text) - most // 2 :]
    head = head.rsplit(" ", 1)[0] if " " in head.strip() else head
    tail = tail.split(" ", 1)[-1] if " " in tail.strip() else tail
    return f"{head.rstrip()} … {tail.lstrip()}"


class BannerLabel(QLabel):
    """A message wrapped to at most :data:`LINES` lines: a warning is there to be read, so a
    message of two lines shows whole (cut to one line it would be a riddle); a longer one
    is cut in the middle to two lines (its start and its end stay; the whole text is in the
    tooltip), so a message never pushes the grid down more than two lines. An error shows
    whole however long (what failed and what to do, a path to put a file in: rare, and the
    grid has little to show then). Its height is held as its text needs, so the layout
    cannot clip it."""

    def __init__(self, **kwargs):
        super().__init__(wordWrap=True, **kwargs)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self._full = ""
        self._cut = True

    def set_message(self, text: str, cut: bool = True) -> None:
        """Show ``text``; ``cut`` False: whole, however many lines it takes. A message with a
        link (rich text: "Show the list") is shown as rich text, whole: a cut could split a
        tag, and such messages are short."""
        rich = QtGui.Qt.mightBeRichText(text)  # (QtGui's Qt namespace has it)
        self.setTextFormat(Qt.TextFormat.RichText if rich else Qt.TextFormat.PlainText)
        self._full, self._cut = text, cut and not rich
        self._fit()

    def full_text(self) -> str:
        return self._full

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        """A width that does not follow the text: the line's layout gives the label the room
        its stretch says, the same whatever the text cut to fit it (else each cut would move
        the line's split, and the text would be cut for a width it no longer has)."""
        return QSize(self.fontMetrics().averageCharWidth() * 20, super().sizeHint().height())

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        super().resizeEvent(event)
        if event.size().width() != event.oldSize().width():
            self._fit()

    def _fits(self, text: str, width: int, most: int) -> bool:
        super().setText(text)
        return self.heightForWidth(width) <= most

    def _fit(self) -> None:
        """The longest middle cut of the text that wraps to LINES lines at this width."""
        width = max(1, self.width())
        if not self._full:  # (nothing shown yet)
            return
        self.setMinimumHeight(0)  # (heightForWidth is never below the minimum height)
        self.setMaximumHeight(QWIDGETSIZE_MAX)
        frame = self.height() - self.contentsRect().height()  # padding and border
        most = self.fontMetrics().lineSpacing() * LINES + frame
        text = self._full
        if not self._fits(text, width, most) and self._cut:
            low, high = 8, len(text)  # characters kept: low fits (or is the least), high not
            while high - low > 1:
                mid = (low + high) // 2
                low, high = (
                    (mid, high) if self._fits(cut_words(text, mid), width, most) else (low, mid)
                )
            super().setText(cut_words(text, low))
        self.setToolTip(text if self.text() != text and self._cut else "")
        self.setFixedHeight(self.heightForWidth(width))


class Banner(QObject):
    """Shows messages in ``label``, with ``action_button`` for what a message offers and
    ``close_button`` to dismiss it."""

    def __init__(
        self, label: BannerLabel, action_button: QPushButton, close_button: QToolButton, parent=None
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
        label.setProperty("error", error)
        label.setProperty("warning", warning and not error)
        label.style().unpolish(label)
        label.style().polish(label)
        label.setVisible(True)
        self.close_button.setVisible(True)
        self._action = action[1] if action else None
        self.action_button.setText(action[0] if action else "")
        self.action_button.setVisible(action is not None)
        if label.parentWidget() is not None and label.parentWidget().layout() is not None:
            label.parentWidget().layout().activate()  # its width beside the buttons shown now
        label.set_message(text, cut=not error)
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
