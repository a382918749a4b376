"""Main window: Classify and Train tabs, menus, status bar, close handling."""

from __future__ import annotations

import logging
import platform
import sys
from collections.abc import Callable

from PySide6.QtCore import QByteArray, QSettings, Qt
from PySide6.QtGui import QAction, QKeySequence, QTextDocumentFragment
from PySide6.QtWidgets import QLabel, QMainWindow, QMessageBox, QTabWidget, QWidget

from ..core import __version__
from ..core.errors import first_line
from ..core.fileio import log_file
from .widgets.screen_fit import resize_to_screen

log = logging.getLogger(__name__)


class TabLoadError(QLabel):
    """What a tab shows in the frozen app when its module cannot be imported: the error and
    where its traceback is. (In development the ImportError rises instead.)"""

    def __init__(self, title: str, error: ImportError, parent=None):
        super().__init__(parent, objectName="tabLoadError", wordWrap=True)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.setStyleSheet("color: #991b1b;")  # the error red of the banners
        self.setText(
            f"The {title} tab could not be loaded: {first_line(error, typed=True)}\n\n"
            f"This copy of Pigeonhole is incomplete; reinstalling it should help. "
            f"The details are in {log_file()}."
        )


def make_tab(title: str, build: Callable[[], QWidget]) -> QWidget:
    """The tab ``build`` imports and makes. An ImportError is a bug: in development it rises
    with its traceback; in the frozen app it is logged and the tab says so (the other tab
    still works)."""
    try:
        return build()
    except ImportError as e:
        if not getattr(sys, "frozen", False):
            raise
        log.exception("The %s tab could not be loaded", title)
        return TabLoadError(title, e)


def _classify_tab(window: QMainWindow) -> QWidget:
    from .classify.tab import ClassifyTab

    return ClassifyTab(window)


def _train_tab(window: QMainWindow) -> QWidget:
    from .train.tab import TrainTab

    return TrainTab(window)


class MainWindow(QMainWindow):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Pigeonhole")
        self.tabs = QTabWidget()
        self.setCentralWidget(self.tabs)
        self.classify_tab = make_tab("Classify", lambda: _classify_tab(self))
        self.train_tab = make_tab("Train", lambda: _train_tab(self))
        self.tabs.addTab(self.classify_tab, "Classify")
        self.tabs.addTab(self.train_tab, "Train")
        self._build_menus()
        self._connect_tabs()
        self.statusBar()  # shows what the tabs are doing (their status_changed)
        resize_to_screen(self, 1280, 820)  # (a laptop screen: less)
        self._restore_geometry()

    @staticmethod
    def loaded(tab: QWidget) -> bool:
        """Whether ``tab`` is the real tab (not the frozen app's TabLoadError)."""
        return not isinstance(tab, TabLoadError)

    def _connect_tabs(self) -> None:
        """The Classify tab reports what it does to the status bar; the Train tab hands a
        freshly trained model to the Classify tab in one click."""
        self._status: dict[QWidget, str] = {}  # each tab's last status line
        self.tabs.currentChanged.connect(lambda _i: self.show_status(None))
        self._strips: dict[QWidget, QWidget] = {}  # the widgets a tab shows in the status bar
        for tab in (self.classify_tab, self.train_tab):
            strip = getattr(tab, "status_strip", None)  # (a TabLoadError has none)
            if strip is not None:
                self.statusBar().addPermanentWidget(strip)
                self._strips[tab] = strip
        self.tabs.currentChanged.connect(self._show_strip)
        self._show_strip()
        classify, train = self.classify_tab, self.train_tab
        if self.loaded(classify):
            classify.status_changed.connect(lambda text: self.show_status(text, classify))
        if not (self.loaded(classify) and self.loaded(train)):
            return  # the frozen app with a tab that failed to load: nothing to hand over
        classify.train_requested.connect(lambda: self.tabs.setCurrentWidget(train))
        train.use_in_classify.connect(self._use_in_classify)
        classify.retrain_requested.connect(self.retrain_on)
        train.run_options = classify.ui.model_panel.run_options  # training runs as the panel says
        train.use_torch(classify.ui.model_panel.torch_facts)  # one import of torch, one answer
        # Evaluations are checked for leaks against the Train tab's folder, once it scans well.
        train.scanned.connect(
            lambda plan: classify.set_training_folder(train.data.folder() if plan else "")
        )

    def load_in_background(self) -> None:
        """Once the window shows: what needs torch (the networks, GPUs, training) is loaded by
        each tab on a worker; the window never waits for it."""
        for tab in (self.classify_tab, self.train_tab):
            load = getattr(tab, "load_in_background", None)
            if load is not None:
                load()

    def show_status(self, text: str | None, tab: QWidget | None = None) -> None:
        """The status bar shows the current tab's status line (rich text reduced to plain
        words); ``text`` None shows the current tab's last one again."""
        if text is not None:
            self._status[tab or self.tabs.currentWidget()] = text
        if tab is not None and tab is not self.tabs.currentWidget():
            return
        text = self._status.get(self.tabs.currentWidget(), "")
        plain = QTextDocumentFragment.fromHtml(text).toPlainText() if "<" in text else text
        self.statusBar().showMessage(" ".join(plain.split()))

    def _show_strip(self, *_args) -> None:
        """The status bar's widgets of the tab in front only (progress, tile size...)."""
        for tab, strip in self._strips.items():
            strip.setVisible(tab is self.tabs.currentWidget())

    def retrain_on(self, folder: str) -> None:
        """Corrections went into ``folder``: open it in the Train tab and start training once
        its scan is done (with the network and options the Train tab is set to)."""
        train = self.train_tab
        self.tabs.setCurrentWidget(train)
        if train.busy:
            self.show_status(f"Training is going: train on {folder} once it is done.", train)
            return

        def scanned(plan) -> None:
            train.scanned.disconnect(scanned)
            if plan is not None and not train.busy:
                train.start()

        train.scanned.connect(scanned)
        train.set_data_folder(folder)

    def _use_in_classify(self, path: str) -> None:
        self.tabs.setCurrentWidget(self.classify_tab)
        self.classify_tab.load_checkpoint_file(path, own=True)  # its own names, nothing else

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)
        self.file_menu = file_menu
        if self.loaded(self.classify_tab):  # the Classify tab adds its own menu
            self.classify_tab.install_menus(self.menuBar())
        help_menu = self.menuBar().addMenu("&Help")
        about = QAction("&About Pigeonhole", self)
        about.triggered.connect(self.show_about)
        help_menu.addAction(about)

    def about_text(self) -> str:
        import sys
        from importlib.metadata import PackageNotFoundError, version

        import PySide6
        from PySide6.QtCore import qVersion

        def installed(name: str) -> str:  # never imported for this (torch takes seconds)
            if name in sys.modules:
                return str(getattr(sys.modules[name], "__version__", "?"))
            try:
                return version(name)
            except PackageNotFoundError:
                return "not installed"

        device = "not known until PyTorch is loaded"
        if "torch" in sys.modules:
            from ..core.devices import describe_device, resolve_device

            device = describe_device(resolve_device("auto"))
        return (
            f"<h3>Pigeonhole {__version__}</h3>"
            "<p>Classify folders of images with any torchvision network, and fine-tune one "
            "on your own folders.</p>"
            f"<table>"
            f"<tr><td>torch</td><td>{installed('torch')}</td></tr>"
            f"<tr><td>torchvision</td><td>{installed('torchvision')}</td></tr>"
            f"<tr><td>ONNX Runtime</td><td>{installed('onnxruntime')}</td></tr>"
            f"<tr><td>Qt</td><td>{qVersion()} (PySide6 {PySide6.__version__})</td></tr>"
            f"<tr><td>Python</td><td>{platform.python_version()}</td></tr>"
            f"<tr><td>Device</td><td>{device}</td></tr>"
            f"</table>"
        )

    def show_about(self) -> None:
        box = QMessageBox(self)
        box.setWindowTitle("About Pigeonhole")
        box.setTextFormat(Qt.TextFormat.RichText)
        box.setText(self.about_text())
        box.open()
        self._about_box = box

    def apply_command_line(self, args) -> None:
        """`pigeonhole gui PATH... --arch ... --checkpoint ...`: hand over to the Classify tab."""
        if self.loaded(self.classify_tab):
            self.classify_tab.apply_command_line(args)

    def _restore_geometry(self) -> None:
        geom = QSettings().value("window/geometry", QByteArray(), type=QByteArray)
        if geom and not geom.isEmpty():
            self.restoreGeometry(geom)

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        for tab in (self.classify_tab, self.train_tab):
            if self.loaded(tab):
                tab.shutdown()
        QSettings().setValue("window/geometry", self.saveGeometry())
        super().closeEvent(event)
