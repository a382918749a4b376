"""Main window: Classify and Train tabs, menus, status bar, close handling."""

from __future__ import annotations

import platform

from PySide6.QtCore import QByteArray, QSettings, Qt
from PySide6.QtGui import QAction, QKeySequence, QTextDocumentFragment
from PySide6.QtWidgets import (
    QLabel,
    QMainWindow,
    QMessageBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ..core import __version__
from .widgets.screen_fit import resize_to_screen


def _placeholder(text: str) -> QWidget:
    w = QWidget()
    lay = QVBoxLayout(w)
    label = QLabel(text)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    lay.addWidget(label)
    return w


class MainWindow(QMainWindow):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Pigeonhole")
        self.tabs = QTabWidget()
        self.setCentralWidget(self.tabs)
        self.classify_tab = self._make_classify_tab()
        self.train_tab = self._make_train_tab()
        self.tabs.addTab(self.classify_tab, "Classify")
        self.tabs.addTab(self.train_tab, "Train")
        self._build_menus()
        self._connect_tabs()
        self.statusBar()  # shows what the tabs are doing (their status_changed)
        resize_to_screen(self, 1280, 820)  # (a laptop screen: less)
        self._restore_geometry()

    # The tabs are built by their own modules; kept in factory methods so a failure in one
    # tab's module is visible at once in tests.
    def _make_classify_tab(self) -> QWidget:
        try:
            from .classify.tab import ClassifyTab
        except ImportError:
            return _placeholder("Classify")
        return ClassifyTab(self)

    def _make_train_tab(self) -> QWidget:
        try:
            from .train.tab import TrainTab
        except ImportError:
            return _placeholder("Train")
        return TrainTab(self)

    def _connect_tabs(self) -> None:
        """The tabs report what they do to the status bar; the Train tab hands a freshly
        trained model to the Classify tab in one click."""
        self._status: dict[QWidget, str] = {}  # each tab's last status line
        for tab in (self.classify_tab, self.train_tab):
            signal = getattr(tab, "status_changed", None)
            if signal is not None:
                signal.connect(lambda text, t=tab: self.show_status(text, t))
        self.tabs.currentChanged.connect(lambda _i: self.show_status(None))
        self._strips: dict[QWidget, QWidget] = {}  # the widgets a tab shows in the status bar
        for tab in (self.classify_tab, self.train_tab):
            strip = getattr(tab, "status_strip", None)
            if strip is not None:
                self.statusBar().addPermanentWidget(strip)
                self._strips[tab] = strip
        self.tabs.currentChanged.connect(self._show_strip)
        self._show_strip()
        train = getattr(self.classify_tab, "train_requested", None)
        if train is not None:
            train.connect(lambda: self.tabs.setCurrentWidget(self.train_tab))
        signal = getattr(self.train_tab, "use_in_classify", None)
        loader = getattr(self.classify_tab, "load_checkpoint_file", None)
        if signal is not None and loader is not None:
            signal.connect(self._use_in_classify)
        retrain = getattr(self.classify_tab, "retrain_requested", None)
        if retrain is not None and hasattr(self.train_tab, "set_data_folder"):
            retrain.connect(self.retrain_on)

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
        for tab in (self.classify_tab, self.train_tab):  # each tab adds its own menu
            install = getattr(tab, "install_menus", None)
            if install is not None:
                install(self.menuBar())
        help_menu = self.menuBar().addMenu("&Help")
        about = QAction("&About Pigeonhole", self)
        about.triggered.connect(self.show_about)
        help_menu.addAction(about)

    def about_text(self) -> str:
        import PySide6
        import torch
        import torchvision
        from PySide6.QtCore import qVersion

        from ..core.devices import describe_device, resolve_device

        device = resolve_device("auto")
        return (
            f"<h3>Pigeonhole {__version__}</h3>"
            "<p>Classify folders of images with any torchvision network, and fine-tune one "
            "on your own folders.</p>"
            f"<table>"
            f"<tr><td>torch</td><td>{torch.__version__}</td></tr>"
            f"<tr><td>torchvision</td><td>{torchvision.__version__}</td></tr>"
            f"<tr><td>Qt</td><td>{qVersion()} (PySide6 {PySide6.__version__})</td></tr>"
            f"<tr><td>Python</td><td>{platform.python_version()}</td></tr>"
            f"<tr><td>Device</td><td>{describe_device(device)}</td></tr>"
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
        handler = getattr(self.classify_tab, "apply_command_line", None)
        if handler is not None:
            handler(args)

    def _restore_geometry(self) -> None:
        geom = QSettings().value("window/geometry", QByteArray(), type=QByteArray)
        if geom and not geom.isEmpty():
            self.restoreGeometry(geom)

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        for tab in (self.classify_tab, self.train_tab):
            shutdown = getattr(tab, "shutdown", None)
            if shutdown is not None:
                shutdown()
        QSettings().setValue("window/geometry", self.saveGeometry())
        super().closeEvent(event)
