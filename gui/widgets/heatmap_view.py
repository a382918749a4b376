"""The preview's heat map: where the network looked for a label (core.insight.heatmaps).

A toggle (the "Heat map" button, or H) lays the map over the image; a list picks the class it
explains ("why not this class?"); the caption says which method made it, for which class. Maps
are made on a worker thread (CAM is one forward pass, Grad-CAM a forward and a backward one),
never on the GUI thread, and kept for the images and classes already shown."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QWidget

from .workers import WorkerSlot

MAX_SIDE = 1400  # the overlay is shown at most this large (as the preview's picture)
KEEP = 24  # maps kept (image, class): stepping back and forth does not recompute


@dataclass(frozen=True, slots=True)
class MapImage:
    """A finished overlay, as RGB888 bytes (made into a QImage in the GUI thread)."""

    path: str
    class_name: str
    method: str
    confidence: float
    width: int
    height: int
    data: bytes


def explain_task(loaded, path: str, class_name: str | None, *, should_stop=None, progress=None):
    """Worker body: the heat map of ``path`` for ``class_name`` (None: its top class), laid over
    the image and shrunk for the screen."""
    from ...core.errors import ImageLoadError, PigeonholeError
    from ...core.insight.heatmaps import explain_files, overlay

    if getattr(loaded, "is_onnx", False):
        raise PigeonholeError(
            "Heat maps need the PyTorch model: this one runs as an ONNX file (load the .pth)."
        )
    (found,) = explain_files(loaded, [path], class_name)
    if found.values is None:
        raise ImageLoadError(found.error or "cannot read this image")
    img = overlay(found.image, found.values)
    img.thumbnail((MAX_SIDE, MAX_SIDE))
    return MapImage(
        path, found.class_name, found.method, found.confidence, img.width, img.height,
        img.tobytes(),
    )  # fmt: skip


class HeatMapControl(QObject):
    """The toggle, the class list and the caption (:attr:`bar`, for the preview's layout), and
    the maps. ``model()`` gives the loaded model the results came from (None: none loaded);
    ``show(image or None)`` puts the overlay in the preview (None: the plain image again)."""

    def __init__(
        self,
        model: Callable[[], object],
        show: Callable[[QImage | None], None],
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.model, self.show = model, show
        self.path: str | None = None
        self.button = QPushButton("Heat map (H)", checkable=True)
        self.button.setToolTip("Show where the network looked for the label (H)")
        self.button.setAutoDefault(False)
        self.button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.classes = QComboBox()
        self.classes.setToolTip("Explain another class: why not this one?")
        self.classes.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.caption = QLabel(objectName="hint")
        self.bar = QWidget()
        row = QHBoxLayout(self.bar)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.button)
        row.addWidget(self.classes)
        row.addWidget(self.caption, 1)
        self._maps: dict[tuple[str, str | None], QImage] = {}
        self._captions: dict[tuple[str, str | None], str] = {}
        self._worker = WorkerSlot(self, on_finished=self._on_map, on_failed=self._on_failed)
        self._asked: tuple[str, str | None] | None = None
        self.button.toggled.connect(self._refresh)
        self.classes.activated.connect(lambda _i: self._refresh())
        self._sync_enabled()

    def toggle(self) -> None:
        self.button.toggle()

    def set_image(self, path: str, top_class: str | None) -> None:
        """The preview moved to ``path`` (its predicted class ``top_class`` first in the list)."""
        self.path = path
        loaded = self.model()
        names = list(getattr(loaded, "class_names", []) or [])
        self.classes.blockSignals(True)
        self.classes.clear()
        self.classes.addItem(f"Why {top_class}" if top_class else "Top class", None)
        for name in names:
            if name != top_class:
                self.classes.addItem(f"Why not {name}", name)
        self.classes.blockSignals(False)
        self._sync_enabled()
        self._refresh()

    def _sync_enabled(self) -> None:
        ok = self.model() is not None
        self.button.setEnabled(ok)
        self.classes.setVisible(ok and self.button.isChecked())
        if not ok:
            self.caption.setText("Heat maps: load a model first.")

    def _refresh(self, *_args) -> None:
        self._sync_enabled()
        if not self.button.isChecked() or self.path is None:
            self.caption.setText("")
            self.show(None)
            return
        key = (self.path, self.classes.currentData())
        if key in self._maps:
            self.caption.setText(self._captions[key])
            self.show(self._maps[key])
            return
        self.caption.setText("Making the heat map…")
        self.show(None)
        self._asked = key
        self._worker.start(explain_task, self.model(), key[0], key[1])

    def _on_map(self, found: MapImage) -> None:
        image = QImage(
            found.data, found.width, found.height, 3 * found.width, QImage.Format.Format_RGB888
        ).copy()  # own its pixels: the bytes go away with the record
        key = self._asked or (found.path, None)
        if len(self._maps) >= KEEP:
            oldest = next(iter(self._maps))
            self._maps.pop(oldest)
            self._captions.pop(oldest, None)
        self._maps[key] = image
        self._captions[key] = (
            f"{found.method} for '{found.class_name}' ({found.confidence:.0%}): red is where the "
            "network looked most."
        )
        if key == (self.path, self.classes.currentData()) and self.button.isChecked():
            self.caption.setText(self._captions[key])
            self.show(image)

    def _on_failed(self, message: str) -> None:
        self.caption.setText(f"No heat map: {message}")
        self.show(None)

    def shutdown(self) -> None:
        self._worker.shutdown()
