"""Thumbnails for the grid: a bounded cache and an off-thread loader for evicted ones.

The run hands over each image's thumbnail (RGB888 bytes made by the core while decoding); they
become ``QImage``s in the GUI thread and go into :class:`ThumbnailCache`, an LRU bounded by
bytes. When the grid paints a tile whose thumbnail was evicted, :class:`ThumbnailLoader`
re-makes it from the file on a small thread pool (``QImageReader.setScaledSize`` decodes
JPEGs at reduced size cheaply) and the tile shows a placeholder meanwhile.
"""

from __future__ import annotations

import logging
from collections import OrderedDict

from PySide6.QtCore import QObject, QRunnable, QSize, Qt, QThreadPool, Signal
from PySide6.QtGui import QImage, QImageReader

from ...core.tasks import run_as_batch

log = logging.getLogger(__name__)

DEFAULT_CACHE_BYTES = 160 * 1024 * 1024
THUMB_SIDE = 192  # thumbnails are made at this size and scaled down to the tile when painted
_KEEP = Qt.AspectRatioMode.KeepAspectRatio
_SMOOTH = Qt.TransformationMode.SmoothTransformation


def thumbnail_to_qimage(thumb) -> QImage:
    """core.data.preprocessing.Thumbnail (RGB888, rows without padding) -> an owning QImage."""
    w, h, data = thumb.width, thumb.height, thumb.data
    img = QImage(w, h, QImage.Format.Format_RGB888)
    # Copied into the image's own buffer: a QImage wrapping the Python bytes ties their
    # lifetime to Qt's (PySide has crashed at interpreter exit that way).
    bits, row, stride = img.bits(), 3 * w, img.bytesPerLine()
    if stride == row:
        bits[: row * h] = data
    else:
        src = memoryview(data)
        for y in range(h):
            bits[y * stride : y * stride + row] = src[y * row : (y + 1) * row]
    return img


class ThumbnailCache:
    """LRU of path -> QImage, bounded by total bytes. Paths that could not be thumbnailed are
    remembered (without images) so they are not retried on every paint."""

    def __init__(self, max_bytes: int = DEFAULT_CACHE_BYTES):
        self.max_bytes = max_bytes
        self._images: OrderedDict[str, QImage] = OrderedDict()
        self._bytes = 0
        self.failed: set[str] = set()

    def __len__(self) -> int:
        return len(self._images)

    def __contains__(self, path: str) -> bool:
        return path in self._images

    @property
    def nbytes(self) -> int:
        return self._bytes

    def get(self, path: str) -> QImage | None:
        img = self._images.get(path)
        if img is not None:
            self._images.move_to_end(path)
        return img

    def put(self, path: str, img: QImage) -> None:
        old = self._images.pop(path, None)
        if old is not None:
            self._bytes -= old.sizeInBytes()
        self._images[path] = img
        self._bytes += img.sizeInBytes()
        while self._bytes > self.max_bytes and len(self._images) > 1:
            _, evicted = self._images.popitem(last=False)
            self._bytes -= evicted.sizeInBytes()

    def rename(self, old: str, new: str) -> None:
        img = self._images.pop(old, None)
        if img is not None:
            self._images[new] = img

    def clear(self) -> None:
        self._images.clear()
        self._bytes = 0
        self.failed.clear()


def read_thumbnail(path: str, side: int = THUMB_SIDE) -> QImage | None:
    """Decode ``path`` at (about) ``side`` pixels on its longer edge; None if Qt can't read
    it (then Pillow, through core.data.images, gets a go)."""
    reader = QImageReader(path)
    reader.setAutoTransform(True)
    size = reader.size()
    if size.isValid() and size.width() > 0 and size.height() > 0:
        scale = min(1.0, side / max(size.width(), size.height()))
        reader.setScaledSize(
            QSize(max(1, round(size.width() * scale)), max(1, round(size.height() * scale)))
        )
    img = reader.read()
    if not img.isNull():
        if max(img.width(), img.height()) > side:
            img = img.scaled(side, side, aspectMode=_KEEP, mode=_SMOOTH)
        return img.convertToFormat(QImage.Format.Format_RGB888)
    try:
        from ...core.data.images import load_image
        from ...core.data.preprocessing import make_thumbnail

        return thumbnail_to_qimage(make_thumbnail(load_image(path, draft_size=side), side))
    except Exception as e:  # any decode failure: the tile keeps its placeholder
        log.debug("no thumbnail for %s: %s", path, e)
        return None


class _Signals(QObject):
    done = Signal(str, object)  # path, QImage | None


class _ThumbJob(QRunnable):
    def __init__(self, path: str, side: int, signals: _Signals):
        super().__init__()
        self.path, self.side, self.signals = path, side, signals
        self.setAutoDelete(True)

    def run(self) -> None:
        run_as_batch()  # the GUI thread that paints what this makes goes first
        try:
            img = read_thumbnail(self.path, self.side)
        except Exception:  # never let a worker thread raise
            log.exception("thumbnail job failed")
            img = None
        try:
            self.signals.done.emit(self.path, img)
        except RuntimeError:  # the loader went away (window closed)
            pass


class ThumbnailLoader(QObject):
    """Re-makes evicted thumbnails on a thread pool; at most one job per path in flight.
    ``ready(path)`` fires in the GUI thread once the image is in the cache."""

    ready = Signal(str)

    def __init__(
        self, cache: ThumbnailCache, side: int = THUMB_SIDE, threads: int = 2, parent=None
    ):
        super().__init__(parent)
        self.cache, self.side = cache, side
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(threads)
        self._pending: set[str] = set()
        self._signals = _Signals(self)
        self._signals.done.connect(self._on_done)

    @property
    def pending(self) -> int:
        return len(self._pending)

    def request(self, path: str) -> None:
        if path in self._pending or path in self.cache.failed or path in self.cache:
            return
        self._pending.add(path)
        self._pool.start(_ThumbJob(path, self.side, self._signals))

    def shutdown(self, timeout_ms: int = 10_000) -> None:
        self._pool.clear()
        self._pool.waitForDone(timeout_ms)
        self._pending.clear()

    def _on_done(self, path: str, img) -> None:
        if path not in self._pending:
            return  # cancelled meanwhile
        self._pending.discard(path)
        if img is None:
            self.cache.failed.add(path)
        else:
            self.cache.put(path, img)
        self.ready.emit(path)
