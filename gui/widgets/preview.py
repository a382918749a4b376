"""One result in detail: the side pane under the grid's selection, and the larger preview
opened by double-click (the image is decoded off the UI thread)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from ..classify.results_model import ResultRow, describe_html
from .thumbnails import ThumbnailCache, ThumbnailLoader

PREVIEW_SIDE = 1400


class DetailPane(QWidget):
    """Full path, top-5 with bars, decode and inference ms of the current tile."""

    def __init__(self, cache: ThumbnailCache, parent=None):
        super().__init__(parent)
        self.cache = cache
        self.row: ResultRow | None = None
        self.image = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
        self.image.setMinimumHeight(110)
        self.image.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.text = QLabel("Select an image to see its details.")
        self.text.setObjectName("hint")
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.text.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.image)
        lay.addWidget(self.text, 1)

    def show_row(self, row: ResultRow | None, selected: int = 1) -> None:
        self.row = row
        if row is None:
            self.image.clear()
            self.text.setObjectName("hint")
            self.text.setText("Select an image to see its details.")
            return
        self.text.setObjectName("")
        extra = f"<p><i>{selected:,} images selected.</i></p>" if selected > 1 else ""
        self.text.setText(describe_html(row) + extra)
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
                180,
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
        )


class PreviewDialog(QDialog):
    """A larger view of one image beside its details."""

    def __init__(self, row: ResultRow, parent=None):
        super().__init__(parent)
        self.row = row
        self.setWindowTitle(row.name)
        self.resize(1000, 680)
        self._image: QImage | None = None
        self.picture = QLabel("Loading…", alignment=Qt.AlignmentFlag.AlignCenter)
        self.picture.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.picture.setMinimumSize(320, 240)
        details = QLabel(describe_html(row))
        details.setWordWrap(True)
        details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        details.setAlignment(Qt.AlignmentFlag.AlignTop)
        scroll = QScrollArea()
        scroll.setWidget(details)
        scroll.setWidgetResizable(True)
        scroll.setFixedWidth(300)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        top = QHBoxLayout()
        top.addWidget(self.picture, 1)
        top.addWidget(scroll)
        lay = QVBoxLayout(self)
        lay.addLayout(top, 1)
        lay.addWidget(buttons)
        self._cache = ThumbnailCache(max_bytes=64 * 1024 * 1024)
        self._loader = ThumbnailLoader(self._cache, side=PREVIEW_SIDE, threads=1, parent=self)
        self._loader.ready.connect(self._on_ready)
        self._loader.request(row.path)  # failed images too: Qt may still read some

    def _on_ready(self, path: str) -> None:
        self._image = self._cache.get(path)
        if self._image is None:
            self.picture.setText(f"Could not read this image.\n{self.row.pred.error or ''}".strip())
            return
        self._show()

    def _show(self) -> None:
        if self._image is None:
            return
        pix = QPixmap.fromImage(self._image)
        self.picture.setPixmap(
            pix.scaled(
                self.picture.size(),
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
        )

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        super().resizeEvent(event)
        self._show()

    def done(self, result: int) -> None:
        self._loader.shutdown()
        super().done(result)
