"""Runs `pigeonhole gui` (run_gui) and prints, at each top-level window's first paint, a line
"WINDOW_CLASS WALL_CLOCK_TIME TORCH_IMPORTED"; once the main window has painted, drops an image
on its drop zone (a real QDragEnterEvent + QDropEvent, posted to the event loop as a person's
drop would be) and prints "DropAccepted WALL_CLOCK_TIME TORCH_IMPORTED" when the drop zone has
taken it, then quits. Used by bench_startup.py (timings) and tests/test_startup.py (the window
is ready before torch is imported).

    QT_QPA_PLATFORM=offscreen python benchmarks/startup_probe.py [IMAGE]
"""

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QEvent, QMimeData, QObject, QPoint, QPointF, Qt, QTimer, QUrl  # noqa: E402
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QImage  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from pigeonhole.gui.app import ensure_app, run_gui  # noqa: E402


def mark(name: str) -> None:
    print(name, time.time(), "torch" in sys.modules, flush=True)


def drop_image(zone, image: str) -> None:
    """What a person's drop delivers: drag enter, then drop, at the zone's centre."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(image)])
    pos = QPoint(zone.width() // 2, zone.height() // 2)
    args = (
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(zone, QDragEnterEvent(pos, *args))
    QApplication.sendEvent(zone, QDropEvent(QPointF(pos), *args))


class FirstPaints(QObject):
    """Application-wide event filter noting each window's first paint event."""

    def __init__(self, app, image: str):
        super().__init__()
        self.app, self.image = app, image
        self.seen: set[str] = set()

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt API)
        if event.type() == QEvent.Type.Paint and obj.isWidgetType():
            window = obj.window()
            name = type(window).__name__
            if name not in self.seen:
                self.seen.add(name)
                mark(name)
                if name == "MainWindow":
                    QTimer.singleShot(0, lambda: self.drop(window))
        return False

    def drop(self, window) -> None:
        zone = window.classify_tab.ui.drop_zone
        zone.dropped.connect(lambda _contents: mark("DropAccepted"))
        zone.dropped.connect(lambda _contents: QTimer.singleShot(0, self.app.quit))
        drop_image(zone, self.image)


def main() -> int:
    app = ensure_app()
    if len(sys.argv) > 1:
        image = sys.argv[1]
    else:
        fd, image = tempfile.mkstemp(suffix=".png", prefix="pigeonhole-probe-")
        os.close(fd)
        picture = QImage(64, 48, QImage.Format.Format_RGB32)
        picture.fill(Qt.GlobalColor.darkGreen)
        picture.save(image)
    probe = FirstPaints(app, image)
    app.installEventFilter(probe)
    try:
        return run_gui(None)
    finally:
        if len(sys.argv) <= 1:
            os.unlink(image)


if __name__ == "__main__":
    sys.exit(main())
