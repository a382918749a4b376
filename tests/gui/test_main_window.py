"""The window shell: tabs, About dialog contents, geometry persistence, a tab that cannot be
imported."""

from __future__ import annotations

import logging
import sys

import pytest
import torch
import torchvision
from PySide6.QtCore import QSettings


def test_window_has_tabs_and_about(qtbot, qsettings_isolated):
    from pigeonhole.gui.classify.tab import ClassifyTab
    from pigeonhole.gui.main_window import MainWindow
    from pigeonhole.gui.train.tab import TrainTab
    from pigeonhole.gui.widgets.drop_zone import DropZone
    from pigeonhole.gui.widgets.model_panel import ModelPanel

    w = MainWindow()
    qtbot.addWidget(w)
    names = [w.tabs.tabText(i) for i in range(w.tabs.count())]
    assert names == ["Classify", "Train"]
    classify, train = w.tabs.widget(0), w.tabs.widget(1)
    assert (classify, train) == (w.classify_tab, w.train_tab)
    assert type(classify) is ClassifyTab and type(train) is TrainTab
    assert isinstance(classify.ui.drop_zone, DropZone) and classify.isAncestorOf(
        classify.ui.drop_zone
    )
    assert isinstance(classify.ui.model_panel, ModelPanel)
    assert train.isAncestorOf(train.start_button) and train.start_button.text()
    assert train.isAncestorOf(train.curves) and train.isAncestorOf(train.data)
    menus = [a.text() for a in w.menuBar().actions()]
    assert menus == ["&File", "&Classify", "&Help"]  # the Classify tab added its own
    classify.train_requested.emit()  # the tabs are wired to each other
    assert w.tabs.currentWidget() is train
    classify.status_changed.emit("<b>Classifying</b> 3 images")
    w.tabs.setCurrentWidget(classify)
    assert w.statusBar().currentMessage() == "Classifying 3 images"
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


def test_a_tab_that_cannot_be_imported_is_a_crash_in_development(
    qtbot, qsettings_isolated, monkeypatch
):
    """Running from source, a broken import is a bug to see at once, with its traceback."""
    from pigeonhole.gui.main_window import MainWindow

    monkeypatch.delattr(sys, "frozen", raising=False)
    monkeypatch.setitem(sys.modules, "pigeonhole.gui.train.tab", None)  # its import fails
    with pytest.raises(ImportError, match="pigeonhole.gui.train.tab"):
        MainWindow()


def test_in_the_frozen_app_a_tab_that_cannot_be_imported_says_so(
    qtbot, qsettings_isolated, monkeypatch, caplog
):
    """Frozen, the import error is logged with its traceback and shown in the tab; the other
    tab still works."""
    from pigeonhole.gui.classify.tab import ClassifyTab
    from pigeonhole.gui.main_window import MainWindow, TabLoadError

    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setitem(sys.modules, "pigeonhole.gui.train.tab", None)
    with caplog.at_level(logging.ERROR, logger="pigeonhole.gui.main_window"):
        w = MainWindow()
    qtbot.addWidget(w)
    assert isinstance(w.train_tab, TabLoadError) and w.tabs.widget(1) is w.train_tab
    assert "The Train tab could not be loaded: ModuleNotFoundError" in w.train_tab.text()
    assert "pigeonhole.gui.train.tab" in w.train_tab.text()
    [record] = [r for r in caplog.records if "Train tab" in r.getMessage()]
    assert record.exc_info is not None and issubclass(record.exc_info[0], ImportError)
    assert type(w.classify_tab) is ClassifyTab
    w.show()
    w.close()  # the loaded tab still shuts down; the broken one is left alone
