"""The model summary under the Model panel's fields: which model is in use, its class names and
its preprocessing with where each came from, what the person must see (warnings, in warning
colour), the notes, and once a run has prepared it, how it runs (int8's measured agreement with
full precision, or why ONNX Runtime is not used)."""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import QLabel, QSizePolicy

WARNING_COLOUR = "#b45309"
ERROR_COLOUR = "#b91c1c"
NOTE_COLOUR = "#71717a"


def _span(text: str, colour: str) -> str:
    return f"<span style='color:{colour}'>{html.escape(text)}</span>"


def model_lines(loaded, fit: Callable[[str, str], str] | None = None) -> list[str]:
    """The summary of a LoadedModel as rich-text lines (``fit(name, before)`` cuts the file
    name to the room left on its line after ``before``: one word a wrapped label cannot
    break)."""
    fit = fit or (lambda name, _before: name)
    source = loaded.source
    name = fit(Path(source).name if Path(source).suffix else source, f"{loaded.arch} · ")
    lines = [
        f"<b>{html.escape(loaded.arch)}</b> · {html.escape(name)}",
        html.escape(loaded.names_line()),
        # what the preprocessing is, then (smaller) where it came from and what else it may be
        f"Preprocessing: {html.escape(loaded.transform.describe())} "
        f"<small>{_span(f'({loaded.transform_origin.describe()})', NOTE_COLOUR)}</small>",
    ]
    lines += [_span(f"⚠ {w}", WARNING_COLOUR) for w in loaded.warnings]
    # where the names came from is on their line already
    notes = [n for n in loaded.notes if not n.startswith("class names from")]
    lines += [f"<small>{_span(n, NOTE_COLOUR)}</small>" for n in notes]
    return lines


class ModelSummary(QLabel):
    """A word-wrapped, selectable label saying what the model in use is (see the module)."""

    def __init__(self, parent=None):
        super().__init__("No model loaded.", parent)
        self.setObjectName("modelStatus")
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # As wide as the panel, not as its longest word: the file name is cut to fit instead.
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.loaded = None  # the LoadedModel shown
        self.engine_line = ""  # how the last run ran it (rich text), for this model
        self._failure = ""  # a failed load, said above the model still in use
        self._width = 0  # the width the file name was cut for

    def show_model(self, loaded) -> None:
        """Show ``loaded`` (how it runs is not known until a run prepares it)."""
        self.loaded, self.engine_line, self._failure = loaded, "", ""
        self.setToolTip(loaded.source)
        self._show_model()

    def show_engine(self, line: str, warning: bool = False) -> None:
        """Add how a run of the model shown ran it (in warning colour when it carries a note to
        read: int8's measured agreement, a fallback's reason); "" removes it."""
        self.engine_line = _span(line, WARNING_COLOUR if warning else NOTE_COLOUR) if line else ""
        if self.loaded is not None:
            self._failure = ""
            self._show_model()

    def show_text(self, text: str, error: bool = False) -> None:
        """A plain message instead of the summary ("Loading colours.pth…", "Not loaded.")."""
        self._width = 0  # (not the summary: nothing to cut again on resizing)
        self._show(html.escape(text), error)

    def show_failure(self, message: str) -> None:
        """A load failed: say so above the summary of the model still in use (if any)."""
        if self.loaded is None:
            self.show_text(message, error=True)
            return
        self._failure = f"{message} Still using {self.loaded.arch}."
        self._show_model()

    def _show_model(self) -> None:
        """The summary of the model in use, its file name cut to the label's width."""
        self._width = self.contentsRect().width()
        bold = QFont(self.font())
        bold.setBold(True)
        fm, wide = self.fontMetrics(), QFontMetrics(bold)

        def fit(name: str, before: str) -> str:
            room = self._width - wide.horizontalAdvance(before) - 2
            if room < fm.horizontalAdvance("ab…yz.pth"):  # a line of its own
                room = self._width
            return fm.elidedText(name, Qt.TextElideMode.ElideMiddle, room)

        lines = model_lines(self.loaded, fit if self._width > 40 else None)
        if self.engine_line:
            lines.append(self.engine_line)
        if self._failure:
            lines.insert(0, _span(self._failure, ERROR_COLOUR))
        self._show("<br>".join(lines), error=False)

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        super().resizeEvent(event)
        if self._width and self.loaded is not None and self.contentsRect().width() != self._width:
            self._show_model()

    def _show(self, rich: str, error: bool) -> None:
        self.setText(rich)
        self.setProperty("error", error)
        self.style().unpolish(self)
        self.style().polish(self)
