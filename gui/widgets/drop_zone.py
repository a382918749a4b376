"""Where images are dropped: a hint page while there are no results, the grid afterwards.

:func:`parse_drop` sorts what was dropped into local image paths (files and folders, the
core lists folders later), checkpoint files, and refusals (non-local URLs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QMimeData, Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

CHECKPOINT_EXTENSIONS = frozenset({".pth", ".pt", ".pkl", ".safetensors", ".ckpt"})


@dataclass(slots=True)
class DropContents:
    paths: list[str] = field(default_factory=list)  # images and folders to classify
    checkpoints: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # a message per thing we could not take

    def __bool__(self) -> bool:
        return bool(self.paths or self.checkpoints)


def parse_drop(mime: QMimeData) -> DropContents:
    out = DropContents()
    if not mime.hasUrls():
        return out
    for url in mime.urls():
        if not url.isLocalFile():
            out.refused.append(f"{url.toDisplayString()} is not a local file: download it first.")
            continue
        path = url.toLocalFile()
        if Path(path).suffix.lower() in CHECKPOINT_EXTENSIONS and Path(path).is_file():
            out.checkpoints.append(path)
        elif Path(path).exists():
            out.paths.append(path)
        else:
            out.refused.append(f"{path} does not exist.")
    return out


class DropZone(QStackedWidget):
    """Page 0: the hint ("Drop folders or images here"); page 1: the content (the grid)."""

    dropped = Signal(object)  # DropContents
    add_folder_clicked = Signal()
    add_files_clicked = Signal()

    def __init__(self, content: QWidget, parent=None):
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.hint = QFrame()
        self.hint.setObjectName("dropHint")
        lay = QVBoxLayout(self.hint)
        lay.addStretch(2)
        title = QLabel("Drop folders or images here")
        title.setObjectName("dropTitle")
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        sub = QLabel(
            "Every image inside dropped folders is classified, sub-folders included.\n"
            "Drop a .pth, .pt, .pkl or .safetensors file to load it as the model."
        )
        sub.setObjectName("dropSub")
        sub.setAlignment(Qt.AlignmentFlag.AlignCenter)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.add_folder_button = QPushButton("Add folder…")
        self.add_files_button = QPushButton("Add images…")
        for b in (self.add_folder_button, self.add_files_button):
            b.setMinimumWidth(130)
            buttons.addWidget(b)
        buttons.addStretch(1)
        self.message = QLabel("")
        self.message.setObjectName("dropMessage")
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.setWordWrap(True)
        lay.addWidget(title)
        lay.addSpacing(6)
        lay.addWidget(sub)
        lay.addSpacing(18)
        lay.addLayout(buttons)
        lay.addSpacing(12)
        lay.addWidget(self.message)
        lay.addStretch(3)
        self.add_folder_button.clicked.connect(self.add_folder_clicked)
        self.add_files_button.clicked.connect(self.add_files_clicked)
        self.addWidget(self.hint)
        self.addWidget(content)
        self.content = content

    def show_hint(self, message: str = "") -> None:
        self.message.setText(message)
        self.setCurrentIndex(0)

    def show_content(self) -> None:
        self.setCurrentIndex(1)

    def set_message(self, message: str) -> None:
        self.message.setText(message)

    def _set_hover(self, on: bool) -> None:
        self.hint.setProperty("hover", on)
        self.hint.style().unpolish(self.hint)
        self.hint.style().polish(self.hint)

    # -- drag and drop ---------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:  # noqa: N802 (Qt API)
        if event.mimeData().hasUrls():
            event.acceptProposedAction()
            self._set_hover(True)
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:  # noqa: N802
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dragLeaveEvent(self, event) -> None:  # noqa: N802
        self._set_hover(False)

    def dropEvent(self, event) -> None:  # noqa: N802
        self._set_hover(False)
        contents = parse_drop(event.mimeData())
        if contents or contents.refused:
            event.acceptProposedAction()
            self.dropped.emit(contents)
        else:
            event.ignore()
