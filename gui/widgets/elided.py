"""Names that fit: a label and a line edit that show a long file name or path cut in the
middle (its start and its extension stay, ``QFontMetrics.elidedText(..., Qt.ElideMiddle)``)
rather than cut at an edge, with the whole name in the tooltip."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPainter, QPalette
from PySide6.QtWidgets import QLabel, QLineEdit, QSizePolicy, QStyle, QStyleOptionFrame

MIDDLE = Qt.TextElideMode.ElideMiddle


def elide_chars(text: str, most: int) -> str:
    """``text``, or its start and end with "…" between: at most ``most`` characters (a long
    file name inside wrapped text, where it is one word the wrapping cannot break)."""
    return text if len(text) <= most else f"{text[: most // 2 - 1]}…{text[-(most // 2) :]}"


class ElidedLabel(QLabel):
    """A one-line plain-text label cut in the middle to its width. :meth:`full_text` is the
    whole text (also the tooltip, when it does not fit); ``text()`` is what shows."""

    def __init__(self, text: str = "", parent=None, **kwargs):
        super().__init__(parent, **kwargs)
        self._full = ""
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.set_full_text(text)

    def set_full_text(self, text: str, tooltip: str | None = None) -> None:
        """Show ``text`` (cut to fit); ``tooltip``: what the tooltip says (the whole text)."""
        self._full = text
        self._tooltip = tooltip
        self._elide()

    def full_text(self) -> str:
        return self._full

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        return QSize(
            self.fontMetrics().horizontalAdvance("ab…yz"), super().minimumSizeHint().height()
        )

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        shown = self.fontMetrics().elidedText(self._full, MIDDLE, self.contentsRect().width())
        super().setText(shown)
        tip = self._tooltip if self._tooltip is not None else self._full
        self.setToolTip(tip if shown != self._full or self._tooltip else "")


class PathEdit(QLineEdit):
    """A line edit for a path: while it has no focus, a path too long for it shows cut in the
    middle (the file name's end stays in view); editing shows it whole. The tooltip has the
    whole path."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.textChanged.connect(self.setToolTip)

    def _text_rect(self):
        opt = QStyleOptionFrame()
        self.initStyleOption(opt)
        rect = self.style().subElementRect(QStyle.SubElement.SE_LineEditContents, opt, self)
        m = self.textMargins()
        return rect.adjusted(m.left() + 4, m.top(), -m.right() - 4, -m.bottom()), opt

    def shown_text(self) -> str:
        """What shows while the field has no focus."""
        rect, _opt = self._text_rect()
        return self.fontMetrics().elidedText(self.text(), MIDDLE, rect.width())

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt API)
        shown = self.shown_text()
        if self.hasFocus() or shown == self.text():
            super().paintEvent(event)
            return
        rect, opt = self._text_rect()
        painter = QPainter(self)
        self.style().drawPrimitive(QStyle.PrimitiveElement.PE_PanelLineEdit, opt, painter, self)
        group = QPalette.ColorGroup.Active if self.isEnabled() else QPalette.ColorGroup.Disabled
        painter.setPen(self.palette().color(group, QPalette.ColorRole.Text))
        align = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        painter.drawText(rect, align, shown)
        painter.end()
