"""One result in detail: the side pane under the grid's selection, and the larger preview that
steps through results (arrow keys) and takes label keys (the image is decoded off the UI
thread).

Both show what their owner gives them (rich text and an image path), so the Classify tab's
results and the Train tab's misclassified images use the same dialog.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from .elided import ElidedLabel
from .heatmap_view import HeatMapControl
from .result_row import ResultRow, describe_html
from .screen_fit import resize_to_screen
from .thumbnails import ThumbnailCache, ThumbnailLoader

PREVIEW_SIDE = 1400
DETAIL_IMAGE_MAX = 180  # the detail pane's picture, at most this high


def name_labels() -> tuple[ElidedLabel, ElidedLabel]:
    """A file's name (bold) and its folder, each cut in the middle to fit, the whole path in
    their tooltips."""
    name = ElidedLabel(objectName="fileName")
    font = name.font()
    font.setBold(True)
    name.setFont(font)
    folder = ElidedLabel(objectName="hint")
    return name, folder


def show_name(name: ElidedLabel, folder: ElidedLabel, path: str | None) -> None:
    """Show ``path``'s name and folder in the labels of :func:`name_labels` (None: neither)."""
    for label in (name, folder):
        label.setVisible(path is not None)
    if path is not None:
        p = Path(path)
        name.set_full_text(p.name, tooltip=path)
        folder.set_full_text(str(p.parent), tooltip=path)


def _text_scroll(label: QLabel) -> QScrollArea:
    scroll = QScrollArea()
    scroll.setWidget(label)
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QFrame.Shape.NoFrame)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    return scroll


class DetailPane(QWidget):
    """File name and folder (cut in the middle to fit), top-5 with bars, decode and inference
    ms of the current tile.

    The picture has a height of its own, set from the space there is (never more than
    :data:`DETAIL_IMAGE_MAX`), and the text scrolls below it: in a short pane the picture
    once overlapped the file name."""

    def __init__(self, cache: ThumbnailCache, parent=None):
        super().__init__(parent)
        self.cache = cache
        self.row: ResultRow | None = None
        self.image = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
        self.image.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.image.setFixedHeight(DETAIL_IMAGE_MAX)
        self.name, self.folder = name_labels()
        show_name(self.name, self.folder, None)
        self.text = QLabel("Select an image to see its details.")
        self.text.setObjectName("hint")
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.text.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.scroll = _text_scroll(self.text)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.image)
        lay.addWidget(self.name)
        lay.addWidget(self.folder)
        lay.addWidget(self.scroll, 1)

    def show_row(self, row: ResultRow | None, selected: int = 1) -> None:
        self.row = row
        show_name(self.name, self.folder, row.path if row is not None else None)
        if row is None:
            self.image.clear()
            self._set_hint(True)
            self.text.setText("Select an image to see its details.")
            return
        self._set_hint(False)
        extra = f"<p><i>{selected:,} images selected.</i></p>" if selected > 1 else ""
        self.text.setText(describe_html(row, header=False) + extra)
        self.refresh_image()

    def _set_hint(self, hint: bool) -> None:
        """Grey while it is only the hint, the text colour once it shows an image's details
        (a style sheet rule by name applies again only when the label is polished again)."""
        name = "hint" if hint else ""
        if self.text.objectName() != name:
            self.text.setObjectName(name)
            self.text.style().unpolish(self.text)
            self.text.style().polish(self.text)

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        super().resizeEvent(event)
        # The picture takes at most ~half of a short pane, leaving the text room.
        height = max(48, min(DETAIL_IMAGE_MAX, self.height() // 2))
        if height != self.image.height():
            self.image.setFixedHeight(height)
            self.refresh_image()

    def refresh_image(self) -> None:
        if self.row is None:
            return
        img = self.cache.get(self.row.path)
        if img is None:
            self.image.clear()
            return
        pix = QPixmap.fromImage(img)
        w = max(60, self.image.width() - 8)
        self.image.setPixmap(
            pix.scaled(
                w,
                self.image.height(),
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
        )


class PreviewDialog(QDialog):
    """A larger view of one image beside its details, with previous/next.

    Keys: Left/Up and Right/Down step (``step_requested``), 1-9 give a label
    (``label_key``), L or F2 open the label picker (``pick_label``). The owner answers by
    calling :meth:`show_item` (and may add its undo/redo actions to the dialog)."""

    step_requested = Signal(int)  # -1 previous, +1 next
    label_key = Signal(int)  # 1..9
    pick_label = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.path: str | None = None
        self.position, self.count = 0, 0
        self._image: QImage | None = None
        self._overlay: QImage | None = None  # the heat map over the image, when shown
        self.heat: HeatMapControl | None = None
        self._error: str | None = None
        self.picture = QLabel("Loading…", alignment=Qt.AlignmentFlag.AlignCenter)
        self.picture.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.picture.setMinimumSize(320, 240)
        self.details = QLabel()
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.name, self.folder = name_labels()
        scroll = _text_scroll(self.details)
        side = QWidget()
        side.setFixedWidth(300)
        column = QVBoxLayout(side)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.name)
        column.addWidget(self.folder)
        column.addWidget(scroll, 1)
        self.previous_button = QPushButton("◀ Previous")
        self.next_button = QPushButton("Next ▶")
        self.where = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
        self.keys = QLabel(objectName="hint", wordWrap=True)
        close = QPushButton("Close")
        for b in (self.previous_button, self.next_button, close):
            b.setAutoDefault(False)
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the arrow keys stay the dialog's
        self.previous_button.clicked.connect(lambda: self.step_requested.emit(-1))
        self.next_button.clicked.connect(lambda: self.step_requested.emit(1))
        close.clicked.connect(self.reject)
        nav = QHBoxLayout()
        nav.addWidget(self.previous_button)
        nav.addWidget(self.where, 1)
        nav.addWidget(self.next_button)
        nav.addSpacing(12)
        nav.addWidget(close)
        top = QHBoxLayout()
        top.addWidget(self.picture, 1)
        top.addWidget(side)
        lay = QVBoxLayout(self)
        lay.addLayout(top, 1)
        lay.addWidget(self.keys)
        self._heat_slot = QVBoxLayout()  # the heat map's bar, when attached
        lay.addLayout(self._heat_slot)
        lay.addLayout(nav)
        self._cache = ThumbnailCache(max_bytes=64 * 1024 * 1024)
        self._loader = ThumbnailLoader(self._cache, side=PREVIEW_SIDE, threads=1, parent=self)
        self._loader.ready.connect(self._on_ready)
        resize_to_screen(self, 1000, 680)  # (a laptop screen: less)

    def show_item(
        self,
        path: str,
        details_html: str,
        position: int,
        count: int,
        keys_html: str = "",
        error: str | None = None,
    ) -> None:
        """Show the image at ``path`` (``position`` of ``count``, 0-based) and its details."""
        self.path, self.position, self.count, self._error = path, position, count, error
        self.setWindowTitle(path.replace("\\", "/").rsplit("/", 1)[-1])
        show_name(self.name, self.folder, path)
        self.details.setText(details_html)
        self.where.setText(f"{position + 1:,} of {count:,}")
        self.previous_button.setEnabled(position > 0)
        self.next_button.setEnabled(position < count - 1)
        self.keys.setText(keys_html)
        self.keys.setVisible(bool(keys_html))
        self._image = self._cache.get(path)
        if self._image is not None:
            self._show()
        else:
            self.picture.setText("Loading…")
            self._loader.request(path)  # failed images too: Qt may still read some

    def show_result(self, row: ResultRow, position: int, count: int, keys_html: str = "") -> None:
        """Show a Classify result (its top-k, correction and timings beside it)."""
        details = describe_html(row, header=False)
        self.show_item(row.path, details, position, count, keys_html, row.pred.error)
        if self.heat is not None:  # (maps kept by another model than the loaded one: not used)
            kept = row.pred if row.pred.ok and not row.stale else None
            self.heat.set_image(row.path, row.pred.label if row.pred.ok else None, kept)

    def attach_heatmap(self, control: HeatMapControl) -> None:
        """Offer heat maps (H, a button, a class list) for the images shown."""
        self.heat = control
        self._heat_slot.addWidget(control.bar)

    def photo(self) -> QImage | None:
        """The photo shown (None while it loads), for a heat map kept from the run."""
        return self._image

    def show_overlay(self, image: QImage | None) -> None:
        """Show ``image`` (the heat map laid over the photo) in place of the photo; None: the
        photo again."""
        self._overlay = image
        self._show()

    def _on_ready(self, path: str) -> None:
        if path != self.path:
            return  # an image stepped past meanwhile
        self._image = self._cache.get(path)
        if self._image is None:
            self.picture.setText(f"Could not read this image.\n{self._error or ''}".strip())
            return
        self._show()
        if self.heat is not None:
            self.heat.photo_ready(path)

    def _show(self) -> None:
        image = self._overlay if self._overlay is not None else self._image
        if image is None:
            return
        pix = QPixmap.fromImage(image)
        self.picture.setPixmap(
            pix.scaled(
                self.picture.size(),
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
        )

    def keyPressEvent(self, event) -> None:  # noqa: N802 (Qt API)
        key, mods = event.key(), event.modifiers()
        plain = mods in (Qt.KeyboardModifier.NoModifier, Qt.KeyboardModifier.KeypadModifier)
        if plain and key in (Qt.Key.Key_Left, Qt.Key.Key_Up, Qt.Key.Key_PageUp):
            self.step_requested.emit(-1)
        elif plain and key in (Qt.Key.Key_Right, Qt.Key.Key_Down, Qt.Key.Key_PageDown):
            self.step_requested.emit(1)
        elif plain and Qt.Key.Key_1 <= key <= Qt.Key.Key_9:
            self.label_key.emit(key - Qt.Key.Key_0)
        elif plain and key in (Qt.Key.Key_L, Qt.Key.Key_F2):
            self.pick_label.emit()
        elif plain and key == Qt.Key.Key_H and self.heat is not None:
            self.heat.toggle()
        else:
            super().keyPressEvent(event)

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        super().resizeEvent(event)
        self._show()

    def done(self, result: int) -> None:
        self._loader.shutdown()
        if self.heat is not None:
            self.heat.shutdown()
        super().done(result)


def make_preview(
    parent: QWidget,
    on_step: Callable[[int], None],
    on_label_key: Callable[[int], None],
    on_pick_label: Callable[[], None],
    on_closed: Callable[[int], None],
    actions=(),
) -> PreviewDialog:
    """A PreviewDialog, deleted when closed, wired to its owner: stepping, label keys, the
    label picker, the end (``on_closed``); ``actions`` (undo, redo) work inside it too."""
    dialog = PreviewDialog(parent)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.step_requested.connect(on_step)
    dialog.label_key.connect(on_label_key)
    dialog.pick_label.connect(on_pick_label)
    dialog.addActions(list(actions))
    dialog.finished.connect(on_closed)
    return dialog
