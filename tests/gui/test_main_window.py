"""The window shell: tabs, About dialog contents, geometry persistence."""

from __future__ import annotations

import torch
import torchvision
from PySide6.QtCore import QSettings


def test_window_has_tabs_and_about(qtbot, qsettings_isolated):
    from gui.main_window import MainWindow

    w = MainWindow()
    qtbot.addWidget(w)
    names = [w.tabs.tabText(i) for i in range(w.tabs.count())]
    assert names == ["Classify", "Train"]
    text = w.about_text()
    assert torch.__version__ in text
    assert torchvision.__version__ in text
    assert "Qt" in text and "cpu" in text.lower()


def test_geometry_persists(qtbot, qsettings_isolated):
    from gui.main_window import MainWindow

    w = MainWindow()
    qtbot.addWidget(w)
    w.resize(780, 560)
    w.show()
    w.close()
    assert not QSettings().value("window/geometry").isEmpty()
    w2 = MainWindow()
    qtbot.addWidget(w2)
    assert (w2.width(), w2.height()) == (780, 560)
