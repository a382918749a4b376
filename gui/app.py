"""QApplication set-up and the GUI entry point.

Start-up order: the main window is built and shown without torch (Qt and the torch-free core
modules alone, under a second); torch is imported later, on a worker, where something needs
it (a torch checkpoint, training, the GPUs where one is likely: gui.widgets.torch_support), the
Model panel saying "Loading PyTorch…" meanwhile. Nothing the window imports to open may
import torch (tests/test_startup.py).
"""

from __future__ import annotations

import gc
import logging
import logging.handlers
import sys

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QSettings, QTimer
from PySide6.QtGui import QGuiApplication, QIcon
from PySide6.QtWidgets import QApplication

from ..core import __version__
from ..core.fileio import data_dir, log_file, resources_dir

ORG = "Pigeonhole"
APP = "Pigeonhole"


def configure_logging() -> None:
    """Tracebacks go to a log file in the per-OS data folder, not to the user. The file takes
    INFO too; the handlers already there (the terminal's, from the command line's
    ``logging.basicConfig``) keep the level the root logger had, so a person's terminal shows
    warnings and errors only (INFO with ``--verbose``), not what the window logs as it works."""
    root = logging.getLogger()
    if any(isinstance(h, logging.handlers.RotatingFileHandler) for h in root.handlers):
        return
    for existing in root.handlers:
        if existing.level == logging.NOTSET:
            existing.setLevel(root.level)
    try:
        handler = logging.handlers.RotatingFileHandler(
            log_file(), maxBytes=2_000_000, backupCount=2, encoding="utf-8"
        )
    except OSError:
        return
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(min(root.level or logging.INFO, logging.INFO))


class GuiThreadCollector(QObject):
    """Python's cyclic garbage collector run from a timer in the GUI thread only.

    Automatic collection runs in whichever thread happens to allocate. When it frees a Qt
    wrapper from a worker thread, Qt can deadlock (seen here: a model-loading thread destroying
    a leftover widget inside QObject::~QObject while the GUI thread held Qt's lock and waited
    for the GIL). So automatic collection is off, and each generation is collected here once
    its count passes the threshold it had (pyqtgraph's GarbageCollector, without importing
    pyqtgraph, which takes half a second).

    Checked every 250 ms: a young collection's pause grows with what was made since the last
    one, and at 1 s a run's results made the middle generation's collection 20-35 ms of the
    GUI thread (50,000 images on 2 cores), in the event loop's longest waits. The oldest
    generation's threshold is scaled up by as much, so a full collection (which walks every
    result) comes no more often than it did."""

    def __init__(self, parent: QObject, interval_ms: int = 250):
        super().__init__(parent)
        young, middle, old = gc.get_threshold()
        self.threshold = (young, middle, old * max(1, round(1000 / interval_ms)))
        gc.disable()
        self._timer = QTimer(self, interval=interval_ms)
        self._timer.timeout.connect(self.check)
        self._timer.start()

    def check(self) -> None:
        counts = gc.get_count()
        for generation in range(3):  # an older one only when the younger one was due too
            if counts[generation] <= self.threshold[generation]:
                return
            gc.collect(generation)


def collect_garbage_in_gui_thread() -> None:
    """Collect garbage only in the GUI thread from now on (once per QApplication, which
    must exist: see GuiThreadCollector)."""
    app = QApplication.instance()
    if app.findChild(GuiThreadCollector) is None:
        GuiThreadCollector(app)


def freeze_startup_objects() -> None:
    """Put every object alive now out of the garbage collector's reach (gc.freeze).

    After start-up that is many objects (Qt wrappers, modules, classes, functions; torch's,
    over 500,000, are frozen when its import ends: gui.widgets.torch_support), all living as
    long as the app. A full collection walked every one of them on the GUI thread, a 0.5 s
    freeze every few minutes of a long run (measured on 2 cores); frozen, it walks only what
    the session made since. Call once, after the main window is built."""
    gc.collect()
    gc.freeze()


def ensure_app(argv: list[str] | None = None) -> QApplication:
    """The one QApplication, created with the names QSettings uses."""
    app = QApplication.instance()
    if app is None:
        QCoreApplication.setOrganizationName(ORG)
        QCoreApplication.setApplicationName(APP)
        QCoreApplication.setApplicationVersion(__version__)
        QSettings.setDefaultFormat(QSettings.Format.IniFormat)
        app = QApplication(argv if argv is not None else sys.argv[:1])
        QGuiApplication.setDesktopFileName("pigeonhole")  # window icon on Wayland
        collect_garbage_in_gui_thread()
        icon = resources_dir() / "icons" / "pigeonhole.png"
        if icon.exists():
            app.setWindowIcon(QIcon(str(icon)))
    return app


class FileOpenForwarder(QObject):
    """macOS Finder's "Open with" sends QFileOpenEvent, not command-line arguments: classify
    the opened files and folders like a drop."""

    def __init__(self, window):
        super().__init__(window)
        self._window = window

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt API)
        if event.type() == QEvent.Type.FileOpen and event.file():
            classify = getattr(self._window.classify_tab, "classify_paths", None)
            if classify is not None:
                self._window.tabs.setCurrentWidget(self._window.classify_tab)
                classify([event.file()])
                return True
        return False


def run_gui(args=None) -> int:
    """Open the main window; ``args`` is the parsed `pigeonhole gui` namespace (or None)."""
    configure_logging()
    data_dir()
    app = ensure_app()
    from .main_window import MainWindow

    window = MainWindow()
    app.installEventFilter(FileOpenForwarder(window))
    window.show()
    if args is not None:
        window.apply_command_line(args)
    app.processEvents()  # painted now, before anything imports torch
    freeze_startup_objects()
    window.load_in_background()  # pyqtgraph; torch where a GPU is likely: on workers
    return app.exec()
