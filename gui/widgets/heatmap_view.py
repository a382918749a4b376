"""The preview's heat map: where the network looked for a label (core.insight.heatmaps).

A toggle (the "Heat map" button, or H) lays the map over the image; a list picks the class it
explains ("why not this class?"); the caption says which method made it, for which class, and
whether it was kept from the run or made now. A map the run kept (``Prediction.maps``: CAM from
the same forward pass) is laid on the photo at once, in the GUI thread (a few ms: it is coloured
at :data:`COLOUR_SIDE` at most and scaled); any other is made on a worker thread (CAM is one
forward pass, Grad-CAM a forward and a backward one), never on the GUI thread. Maps are kept
for the images and classes already shown.

:func:`heat_qimage` and :func:`paint_heat` colour a map for the grid's tiles too."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, QRect, Qt
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QWidget

from .workers import WorkerSlot

MAX_SIDE = 1400  # the overlay is shown at most this large (as the preview's picture)
KEEP = 24  # maps kept (image, class): stepping back and forth does not recompute
COLOUR_SIDE = 480  # a kept map is coloured at most this large, then scaled smoothly
OPACITY = 0.5  # the map over the photo (as core.insight.heatmap_pixels.overlay mixes them)
LOOK_HINT = "red is where the network looked most."


def heat_qimage(values: np.ndarray) -> QImage:
    """A map on a picture's pixels ((h, w) in [0, 1]) in the blue-to-red colour scale."""
    from ...core.insight.heatmap_pixels import heat_colours

    rgb = np.ascontiguousarray(heat_colours(values))
    h, w = rgb.shape[:2]
    return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def paint_heat(painter: QPainter, target: QRect, values: np.ndarray, spec) -> None:
    """Lay ``values`` (a map on the network's input grid, for a model whose preprocessing is
    ``spec``) over the picture drawn in ``target``, which shows the whole image: the map is
    carried to the picture's pixels (at most :data:`COLOUR_SIDE`) and scaled to ``target``."""
    from ...core.insight.heatmap_pixels import to_image_pixels

    w, h = max(1, target.width()), max(1, target.height())
    scale = min(1.0, COLOUR_SIDE / max(w, h))
    cw, ch = max(1, round(w * scale)), max(1, round(h * scale))
    opacity = painter.opacity()
    painter.setOpacity(opacity * OPACITY)
    painter.drawImage(target, heat_qimage(to_image_pixels(values, spec, cw, ch)))
    painter.setOpacity(opacity)


def overlaid(photo: QImage, values: np.ndarray, spec) -> QImage:
    """``photo`` (the whole image, any size) with a kept map laid over it."""
    out = photo.convertToFormat(QImage.Format.Format_RGB32)
    painter = QPainter(out)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    paint_heat(painter, out.rect(), values, spec)
    painter.end()
    return out


def kept_values(prediction, class_name: str, class_names) -> np.ndarray | None:
    """The map ``prediction`` kept from its run for ``class_name`` (float32 on the network's
    input grid, in [0, 1]), or None: no map kept, or not for that class."""
    maps = getattr(prediction, "maps", None)
    if maps is None or class_name not in class_names:
        return None
    return maps.for_class(list(class_names).index(class_name))


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
    ``show(image or None)`` puts the overlay in the preview (None: the plain image again);
    ``photo()`` gives the photo shown (None while it loads), for maps kept from the run."""

    def __init__(
        self,
        model: Callable[[], object],
        show: Callable[[QImage | None], None],
        parent: QWidget | None = None,
        photo: Callable[[], QImage | None] = lambda: None,
    ):
        super().__init__(parent)
        self.model, self.show, self.photo = model, show, photo
        self.path: str | None = None
        self.top_class: str | None = None
        self.kept = None  # the prediction shown, when its kept maps are the loaded model's
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

    def set_image(self, path: str, top_class: str | None, kept=None) -> None:
        """The preview moved to ``path`` (its predicted class ``top_class`` first in the list).
        ``kept``: its prediction, when the maps it kept are the loaded model's (None: every
        map is made on demand)."""
        self.path, self.top_class, self.kept = path, top_class, kept
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

    def photo_ready(self, path: str) -> None:
        """The preview's photo of ``path`` arrived: lay a kept map on it, if one waits."""
        if path == self.path:
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
        if self._show_kept(key):
            return
        self.caption.setText("Making the heat map…")
        self.show(None)
        self._asked = key
        self._worker.start(explain_task, self.model(), key[0], key[1])

    def _show_kept(self, key: tuple[str, str | None]) -> bool:
        """Lay the map the run kept for the class asked on the photo, at once; False when the
        run kept none for it (it is made on demand then)."""
        loaded, name = self.model(), key[1] or self.top_class
        if self.kept is None or loaded is None or name is None:
            return False
        values = kept_values(self.kept, name, loaded.class_names)
        if values is None:
            return False
        photo = self.photo()
        if photo is None or photo.isNull():
            self.caption.setText("Waiting for the image…")  # photo_ready() comes back
            self.show(None)
            return True
        conf = dict(self.kept.topk).get(name)
        said = f" ({conf:.0%})" if conf is not None else ""
        caption = f"{self.kept.maps.method} for '{name}'{said}, kept from the run: {LOOK_HINT}"
        self._keep(key, overlaid(photo, values, loaded.transform), caption)
        return True

    def _keep(self, key: tuple[str, str | None], image: QImage, caption: str) -> None:
        """Remember a finished map (the oldest goes past :data:`KEEP`); show it if it is the
        one the preview wants now."""
        if len(self._maps) >= KEEP:
            oldest = next(iter(self._maps))
            self._maps.pop(oldest)
            self._captions.pop(oldest, None)
        self._maps[key], self._captions[key] = image, caption
        if key == (self.path, self.classes.currentData()) and self.button.isChecked():
            self.caption.setText(caption)
            self.show(image)

    def _on_map(self, found: MapImage) -> None:
        image = QImage(
            found.data, found.width, found.height, 3 * found.width, QImage.Format.Format_RGB888
        ).copy()  # own its pixels: the bytes go away with the record
        caption = (
            f"{found.method} for '{found.class_name}' ({found.confidence:.0%}), made now: "
            f"{LOOK_HINT}"
        )
        self._keep(self._asked or (found.path, None), image, caption)

    def _on_failed(self, message: str) -> None:
        self.caption.setText(f"No heat map: {message}")
        self.show(None)

    def shutdown(self) -> None:
        self._worker.shutdown()
