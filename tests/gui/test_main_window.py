"""The window shell: tabs, About dialog contents, geometry persistence."""

from __future__ import annotations

import torch
import torchvision
from PySide6.QtCore import QSettings


def test_window_has_tabs_and_about(qtbot, qsettings_isolated):
    from pigeonhole.gui.main_window import MainWindow

    w = MainWindow()
    qtbot.addWidget(w)
    names = [w.tabs.tabText(i) for i in range(w.tabs.count())]
    assert names == ["Classify", "Train"]
    text = w.about_text()
    assert torch.__version__ in text
    assert torchvision.__version__ in text
    assert "Qt" in text and "cpu" in text.lower()


def test_geometry_persists(qtbot, qsettings_isolated):
    from pigeonhole.gui.main_window import MainWindow

    w = MainWindow()
    qtbot.addWidget(w)
    w.resize(780, 560)
    w.show()
    w.close()
    assert not QSettings().value("window/geometry").isEmpty()
    w2 = MainWindow()
    qtbot.addWidget(w2)
    assert (w2.width(), w2.height()) == (780, 560)


def test_file_open_event_classifies_the_folder(qtbot, qsettings_isolated, tmp_path, monkeypatch):
    """macOS "Open with Pigeonhole" arrives as a QFileOpenEvent: it starts a run on that path."""
    from PySide6.QtCore import QCoreApplication
    from PySide6.QtGui import QFileOpenEvent

    from pigeonhole.gui.app import FileOpenForwarder
    from pigeonhole.gui.main_window import MainWindow

    w = MainWindow()
    qtbot.addWidget(w)
    w.tabs.setCurrentWidget(w.train_tab)
    opened = []
    monkeypatch.setattr(w.classify_tab, "classify_paths", opened.append)
    forwarder = FileOpenForwarder(w)
    QCoreApplication.instance().installEventFilter(forwarder)
    try:
        QCoreApplication.sendEvent(QCoreApplication.instance(), QFileOpenEvent(str(tmp_path)))
    finally:
        QCoreApplication.instance().removeEventFilter(forwarder)
    assert opened == [[str(tmp_path)]]
    assert w.tabs.currentWidget() is w.classify_tab
