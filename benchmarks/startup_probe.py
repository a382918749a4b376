"""Runs `pigeonhole gui` (run_gui) and prints, at each top-level window's first paint, a line
"WINDOW_CLASS WALL_CLOCK_TIME TORCH_IMPORTED"; quits once the main window has painted. Used by
bench_startup.py (timings) and tests/test_startup.py (the order: painted before torch).

    QT_QPA_PLATFORM=offscreen python benchmarks/startup_probe.py
"""

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QEvent, QObject, QTimer  # noqa: E402

from pigeonhole.gui.app import ensure_app, run_gui  # noqa: E402


class FirstPaints(QObject):
    """Application-wide event filter noting each window's first paint event."""

    def __init__(self, app):
        super().__init__()
        self.app = app
        self.seen: set[str] = set()

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt API)
        if event.type() == QEvent.Type.Paint and obj.isWidgetType():
            name = type(obj.window()).__name__
            if name not in self.seen:
                self.seen.add(name)
                print(name, time.time(), "torch" in sys.modules, flush=True)
                if name == "MainWindow":
                    QTimer.singleShot(0, self.app.quit)
        return False


def main() -> int:
    app = ensure_app()
    probe = FirstPaints(app)
    app.installEventFilter(probe)
    return run_gui(None)


if __name__ == "__main__":
    sys.exit(main())
