"""QApplication set-up and the GUI entry point.

Start-up order: the start-up window is painted first (Qt alone, ~0.3 s), torch and the core
modules import on a thread while it stays painted and movable (seconds), then the main window
replaces it. Nothing imported before the first paint may import torch (tests/test_startup.py).
"""

from __future__ import annotations

import gc
import logging
import logging.handlers
import sys
import threading

from PySide6.QtCore import QByteArray, QCoreApplication, QEvent, QEventLoop, QObject, QSettings, Qt
from PySide6.QtGui import QGuiApplication, QIcon, QPixmap
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow, QVBoxLayout, QWidget

from ..core import __version__
from ..core.fileio import data_dir, log_file, resources_dir
from .widgets.screen_fit import resize_to_screen

ORG = "Pigeonhole"
APP = "Pigeonhole"


def configure_logging() -> None:
    """Tracebacks go to a log file in the per-OS data folder, not to the user."""
    root = logging.getLogger()
    if any(isinstance(h, logging.handlers.RotatingFileHandler) for h in root.handlers):
        return
    try:
        handler = logging.handlers.RotatingFileHandler(
            log_file(), maxBytes=2_000_000, backupCount=2, encoding="utf-8"
        )
    except OSError:
        return
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(min(root.level or logging.INFO, logging.INFO))


_gc_timer = None


def collect_garbage_in_gui_thread() -> None:
    """Run Python's cyclic garbage collector only in the GUI thread.

    Automatic collection runs in whichever thread happens to allocate. When it frees a Qt
    wrapper from a worker thread, Qt can deadlock (seen here: a model-loading thread destroying
    a leftover widget inside QObject::~QObject while the GUI thread held Qt's lock and waited
    for the GIL). pyqtgraph's GarbageCollector disables automatic collection and collects from
    a timer in the GUI thread instead. Needs a QApplication."""
    global _gc_timer
    if _gc_timer is None:
        from pyqtgraph.util.garbage_collector import GarbageCollector

        _gc_timer = GarbageCollector(interval=1.0)


def freeze_startup_objects() -> None:
    """Put every object alive now out of the garbage collector's reach (gc.freeze).

    After start-up that is over 500,000 objects (torch, torchvision, Qt wrappers: modules,
    classes, functions), all living as long as the app. A full collection walked every one of
    them on the GUI thread, a 0.5 s freeze every few minutes of a long run (measured on 2
    cores); frozen, it walks only what the session made since. Call once, after the main
    window is built."""
    from ..core.runtime import inference  # noqa: F401 (imported by the first run anyway)

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


class StartupWindow(QMainWindow):
    """What a double-click shows at once: the main window's frame (same title, icon, saved
    geometry) saying that PyTorch is loading, until the real window replaces it."""

    def __init__(self):
        super().__init__()
        self.setWindowTitle("Pigeonhole")
        resize_to_screen(self, 1280, 820)
        geom = QSettings().value("window/geometry", QByteArray(), type=QByteArray)
        if geom and not geom.isEmpty():
            self.restoreGeometry(geom)
        body = QWidget()
        lay = QVBoxLayout(body)
        lay.addStretch(1)
        icon = resources_dir() / "icons" / "pigeonhole-256.png"
        if icon.exists():
            picture = QLabel()
            picture.setPixmap(QPixmap(str(icon)).scaledToWidth(128))
            picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
            lay.addWidget(picture)
        message = QLabel(f"Pigeonhole {__version__}: loading PyTorch…")
        message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        lay.addWidget(message)
        lay.addStretch(1)
        self.setCentralWidget(body)


def import_torch_in_background(app: QApplication) -> None:
    """Import torch and the core modules the window needs on a thread while the GUI thread
    keeps painting (torch + torchvision take seconds); re-raises what the import raised. Only
    modules without Qt are imported there: what the main window's tabs need that pulls torch."""
    failed: list[BaseException] = []

    def work() -> None:
        try:
            from ..core import devices  # noqa: F401
            from ..core.models.archs import list_archs
            from ..core.runtime import inference  # noqa: F401
            from ..core.training import fine_tune  # noqa: F401

            list_archs()  # the network picker's registry, built once here
        except BaseException as e:  # handed to the GUI thread, which raises it
            failed.append(e)

    thread = threading.Thread(target=work, name="pigeonhole-import", daemon=True)
    thread.start()
    while thread.is_alive():
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 30)
        thread.join(0.015)
    if failed:
        raise failed[0]


def run_gui(args=None) -> int:
    """Open the main window; ``args`` is the parsed `pigeonhole gui` namespace (or None)."""
    configure_logging()
    data_dir()
    app = ensure_app()
    startup = StartupWindow()
    startup.show()
    app.processEvents()  # painted now, before torch
    import_torch_in_background(app)
    from .main_window import MainWindow

    window = MainWindow()
    freeze_startup_objects()
    app.installEventFilter(FileOpenForwarder(window))
    window.show()
    startup.close()
    if args is not None:
        window.apply_command_line(args)
    return app.exec()
