"""The model summary under the Model panel's fields: which model is in use, its class names and
its preprocessing with where each came from, what the person must see (warnings, in warning
colour), the notes, and once a run has prepared it, how it runs (int8's measured agreement with
full precision, or why ONNX Runtime is not used)."""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

WARNING_COLOUR = "#b45309"
ERROR_COLOUR = "#b91c1c"
NOTE_COLOUR = "#71717a"


def _span(text: str, colour: str) -> str:
    return f"<span style='color:{colour}'>{html.escape(text)}</span>"


def model_lines(loaded) -> list[str]:
    """The summary of a LoadedModel as rich-text lines."""
    source = loaded.source
    name = Path(source).name if Path(source).suffix else source
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
        self.loaded = None  # the LoadedModel shown
        self.engine_line = ""  # how the last run ran it (rich text), for this model

    def show_model(self, loaded) -> None:
        """Show ``loaded`` (how it runs is not known until a run prepares it)."""
        self.loaded, self.engine_line = loaded, ""
        self.setToolTip(loaded.source)
        self._show("<br>".join(model_lines(loaded)), error=False)

    def show_engine(self, line: str, warning: bool = False) -> None:
        """Add how a run of the model shown ran it (in warning colour when it carries a note to
        read: int8's measured agreement, a fallback's reason); "" removes it."""
        self.engine_line = _span(line, WARNING_COLOUR if warning else NOTE_COLOUR) if line else ""
        if self.loaded is not None:
            lines = model_lines(self.loaded) + ([self.engine_line] if line else [])
            self._show("<br>".join(lines), error=False)

    def show_text(self, text: str, error: bool = False) -> None:
        """A plain message instead of the summary ("Loading colours.pth…", "Not loaded.")."""
        self._show(html.escape(text), error)

    def show_failure(self, message: str) -> None:
        """A load failed: say so above the summary of the model still in use (if any)."""
        if self.loaded is None:
            self.show_text(message, error=True)
            return
        still = f"{message} Still using {self.loaded.arch}."
        rest = model_lines(self.loaded)
        if self.engine_line:
            rest.append(self.engine_line)
        self._show("<br>".join([_span(still, ERROR_COLOUR), *rest]), error=False)

    def _show(self, rich: str, error: bool) -> None:
        self.setText(rich)
        self.setProperty("error", error)
        self.style().unpolish(self)
        self.style().polish(self)
