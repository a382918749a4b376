"""Where images are dropped: a start page while there are no results, the grid afterwards.

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

from ...core.models.files import CHECKPOINT_SUFFIXES, is_checkpoint_name


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
        if is_checkpoint_name(Path(path).name) and Path(path).is_file():
            out.checkpoints.append(path)
        elif Path(path).exists():
            out.paths.append(path)
        else:
            out.refused.append(f"{path} does not exist.")
    return out


NEEDS_MODEL, LOADING, READY = "needs-model", "loading", "ready"


class DropZone(QStackedWidget):
    """Page 0: where to start, the one place an empty window says what to do first; page 1:
    the content (the grid).

    The start page has three states (:meth:`show_start`): no model yet (open a checkpoint, use
    ImageNet weights, or train one), a model loading, and ready for images (drop them, or
    add a folder or images)."""

    dropped = Signal(object)  # DropContents
    add_folder_clicked = Signal()
    add_files_clicked = Signal()
    open_checkpoint_clicked = Signal()
    use_imagenet_clicked = Signal()
    train_clicked = Signal()

    def __init__(self, content: QWidget, parent=None):
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.state = NEEDS_MODEL
        self.hint = QFrame()
        self.hint.setObjectName("dropHint")
        lay = QVBoxLayout(self.hint)
        lay.addStretch(2)
        self.title = QLabel(objectName="dropTitle", alignment=Qt.AlignmentFlag.AlignCenter)
        self.title.setWordWrap(True)
        self.sub = QLabel(objectName="dropSub", alignment=Qt.AlignmentFlag.AlignCenter)
        self.sub.setWordWrap(True)
        self.open_checkpoint_button = QPushButton("Open a checkpoint…")
        self.imagenet_button = QPushButton("Use ImageNet weights")
        self.train_button = QPushButton("Train your own…")
        self.add_folder_button = QPushButton("Add folder…")
        self.add_files_button = QPushButton("Add images…")
        self.model_buttons = _buttons(
            QVBoxLayout(), self.open_checkpoint_button, self.imagenet_button, self.train_button
        )
        self.image_buttons = _buttons(QHBoxLayout(), self.add_folder_button, self.add_files_button)
        self.message = QLabel("")
        self.message.setObjectName("dropMessage")
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.setWordWrap(True)
        lay.addWidget(self.title)
        lay.addSpacing(6)
        lay.addWidget(self.sub)
        lay.addSpacing(18)
        lay.addWidget(self.model_buttons)
        lay.addWidget(self.image_buttons)
        lay.addSpacing(12)
        lay.addWidget(self.message)
        lay.addStretch(3)
        self.add_folder_button.clicked.connect(self.add_folder_clicked)
        self.add_files_button.clicked.connect(self.add_files_clicked)
        self.open_checkpoint_button.clicked.connect(self.open_checkpoint_clicked)
        self.imagenet_button.clicked.connect(self.use_imagenet_clicked)
        self.train_button.clicked.connect(self.train_clicked)
        self.addWidget(self.hint)
        self.addWidget(content)
        self.content = content
        self.show_start(NEEDS_MODEL)

    def show_start(self, state: str, detail: str = "", imagenet: str = "") -> None:
        """What the start page asks for: a model (``imagenet`` names the network the ImageNet
        button loads), the model loading (``detail``: which), or images (``detail``: the
        model they will go through)."""
        self.state = state
        if state == NEEDS_MODEL:
            self.title.setText("First, choose a model")
            kinds = ", ".join(sorted(CHECKPOINT_SUFFIXES))
            self.sub.setText(
                f"A model is a trained network: a checkpoint file ({kinds}; drop one here), "
                "ImageNet weights for everyday photos, or one you train on your own folders "
                "of examples."
            )
        elif state == LOADING:
            self.title.setText("Loading the model…")
            self.sub.setText(detail)
        else:
            self.title.setText("Drop folders or images here")
            self.sub.setText(
                (f"{detail}\n" if detail else "")
                + "Every image inside dropped folders is classified, sub-folders included."
            )
        self.imagenet_button.setText(
            f"Use ImageNet weights ({imagenet})" if imagenet else "Use ImageNet weights"
        )
        self.model_buttons.setVisible(state == NEEDS_MODEL)
        self.image_buttons.setVisible(state == READY)

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


def _buttons(lay: QHBoxLayout | QVBoxLayout, *buttons: QPushButton) -> QWidget:
    """``buttons`` in a row or a column, centred, each at least as wide as its text."""
    box = QWidget()
    outer = QHBoxLayout(box)
    outer.setContentsMargins(0, 0, 0, 0)
    outer.addStretch(1)
    outer.addLayout(lay)
    outer.addStretch(1)
    for b in buttons:
        b.setMinimumWidth(max(130, b.sizeHint().width()))
        lay.addWidget(b)
    return box
