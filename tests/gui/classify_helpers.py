"""Helpers for the Classify tab tests: generated images, loading, dropping, waiting."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from pigeonhole.core.data.synthetic import class_image
from pigeonhole.core.models.archs import TransformSpec

CLASSES = ("red", "green", "blue")
FAST_ARCH = "resnet18"
# A small input keeps the forward pass cheap: these tests are about the GUI, not accuracy.
SMALL = TransformSpec(resize=40, crop=32)


def make_images(
    folder: Path, n: int, size=(48, 36), start: int = 0, fmt: str = "JPEG"
) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    ext = ".jpg" if fmt == "JPEG" else ".png"
    out = []
    for i in range(start, start + n):
        p = folder / f"img_{i:05d}{ext}"
        class_image(CLASSES[i % 3], i, size).save(p, fmt)
        out.append(p)
    return out


def load(qtbot, tab, checkpoint: Path, timeout: int = 30_000):
    tab.load_checkpoint_file(str(checkpoint))
    qtbot.waitUntil(
        lambda: tab.ui.model_panel.loaded is not None and not tab.ui.model_panel.busy,
        timeout=timeout,
    )
    return tab.ui.model_panel.loaded


def drop(widget, urls: list[QUrl]) -> None:
    """Drag ``urls`` onto ``widget`` and drop them: real QDragEnterEvent + QDropEvent."""
    mime = QMimeData()
    mime.setUrls(urls)
    # Qt's C++ API: QDragEnterEvent takes a QPoint, QDropEvent a QPointF (PySide6 6.11 insists)
    pos = QPoint(widget.width() // 2, widget.height() // 2)
    args = (
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(widget, QDragEnterEvent(pos, *args))
    QApplication.sendEvent(widget, QDropEvent(QPointF(pos), *args))


def drop_paths(widget, paths) -> None:
    drop(widget, [QUrl.fromLocalFile(str(p)) for p in paths])


def run_and_wait(qtbot, tab, paths, timeout: int = 60_000):
    """Drop ``paths`` on the grid area and wait for the run to finish; returns the summary."""
    with qtbot.waitSignal(tab.runs.finished, timeout=timeout) as blocker:
        drop_paths(tab.ui.drop_zone, paths)
    return blocker.args[0]


def select(tab, view_rows: list[int]) -> None:
    """Select these tiles of the grid (the first becomes the current one)."""
    sel = tab.ui.grid.selectionModel()
    sel.clearSelection()
    for i, row in enumerate(view_rows):
        idx = tab.ui.grid.model().index(row, 0)
        sel.select(idx, QItemSelectionModel.SelectionFlag.Select)
        if i == 0:
            sel.setCurrentIndex(idx, QItemSelectionModel.SelectionFlag.NoUpdate)


def labelled_folders(root: Path) -> Path:
    """``root/val/<class>/`` with 5 images of the class and one of another class put in the
    wrong folder (a disagreement whatever the model), and ``root/val/misc/`` (no class)."""
    val = root / "val"
    for k, label in enumerate(CLASSES):
        folder = val / label
        folder.mkdir(parents=True)
        for i in range(5):
            class_image(label, 500 + 10 * k + i, (48, 36)).save(folder / f"{label}_{i}.jpg")
        stray = CLASSES[(k + 1) % len(CLASSES)]
        class_image(stray, 700 + k, (48, 36)).save(folder / f"stray_{stray}.jpg")
    misc = val / "misc"
    misc.mkdir()
    for i in range(3):
        class_image(CLASSES[i], 800 + i, (48, 36)).save(misc / f"misc_{i}.jpg")
    return val
