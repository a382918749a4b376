"""The Model panel folded to one line: network · file · classes · engine. A click opens the
panel again (and folds it). The file name is cut in the middle where the line is too narrow
(its start and its extension stay); the tooltip has the whole path."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QSizePolicy, QToolButton

SEP = " · "
FOLDED, OPEN = "▸", "▾"


def model_parts(loaded, engine: str) -> tuple[str, str, str, str]:
    """The four parts of the line for a LoadedModel: network, file (or the weights' name),
    classes, engine."""
    source = str(loaded.source)
    name = Path(source).name if Path(source).suffix else source
    n = loaded.num_classes
    return loaded.arch, name, f"{n:,} class{'es' if n != 1 else ''}", engine


class ModelLine(QToolButton):
    """A flat, checkable button showing the model in use on one line; checked while the Model
    panel is open."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("modelLine")
        self.setCheckable(True)
        self.setAutoRaise(True)
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.parts: tuple[str, ...] = ("No model loaded",)
        self.path = ""
        self.toggled.connect(lambda _on: self._refresh())
        self._refresh()

    def show_model(self, loaded, engine: str) -> None:
        self.parts = model_parts(loaded, engine)
        self.path = str(loaded.source)
        self._refresh()

    def set_engine(self, engine: str) -> None:
        if len(self.parts) == 4:
            self.parts = (*self.parts[:3], engine)
            self._refresh()

    def full_text(self) -> str:
        return f"{OPEN if self.isChecked() else FOLDED} Model: {SEP.join(self.parts)}"

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        hint = super().sizeHint()
        return QSize(self.fontMetrics().horizontalAdvance(self.full_text()) + 16, hint.height())

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        """Room for "▾ Model: re…" (the panel, open beside it, says the rest)."""
        width = self.fontMetrics().horizontalAdvance(f"{OPEN} Model: re…") + 16
        return QSize(width, super().minimumSizeHint().height())

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        super().resizeEvent(event)
        self._refresh()

    def _refresh(self) -> None:
        """The text that fits the button: the file name cut in the middle first (the engine,
        then the classes, left out to keep enough of it: its end names it), then the line's
        end; the tooltip has the whole line."""
        full = self.full_text()
        room = self.width() - 16
        fm = self.fontMetrics()
        text = full
        if fm.horizontalAdvance(full) > room and len(self.parts) == 4:
            arch, name, *rest = self.parts
            head = f"{OPEN if self.isChecked() else FOLDED} Model: {arch}{SEP}"
            # the name whole, or at least this much of it ("resnet18_finet…poch_4_bst.pth")
            enough = min(fm.horizontalAdvance(name), fm.averageCharWidth() * 28)
            least = fm.horizontalAdvance("ab…yz.pth")
            for kept in (2, 1, 0):  # the engine, then the classes, make room for the name
                tail = "".join(SEP + part for part in rest[:kept])
                left = room - fm.horizontalAdvance(head + tail)
                if left >= (enough if kept else least):
                    text = head + fm.elidedText(name, Qt.TextElideMode.ElideMiddle, left) + tail
                    break
        if fm.horizontalAdvance(text) > room:
            text = fm.elidedText(full, Qt.TextElideMode.ElideRight, max(0, room))
        self.setText(text)
        what = "Fold the Model panel" if self.isChecked() else "Open the Model panel"
        detail = "\n".join(p for p in (SEP.join(self.parts), self.path) if p)
        self.setToolTip(f"{detail}\n({what})")
