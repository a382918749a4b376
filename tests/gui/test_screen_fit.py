"""Nothing opens larger than the screen (issue 27): the preview opened at 1004x684 whatever the
screen, so on a 640-high laptop its Previous/Next/Close were off-screen; the main window opened
at 1280x820."""

from __future__ import annotations

import pytest
from classify_helpers import load, run_and_wait
from PySide6.QtCore import QRect
from PySide6.QtGui import QScreen
from PySide6.QtWidgets import QApplication, QPushButton


@pytest.fixture(params=[(1024, 640), (1366, 768)], ids=["1024x640", "1366x768"])
def screen(request, monkeypatch) -> QRect:
    """The screen's available geometry, as on a laptop (a task bar takes 40 pixels)."""
    w, h = request.param
    area = QRect(0, 0, w, h - 40)
    monkeypatch.setattr(QScreen, "availableGeometry", lambda _self: QRect(area))
    return area


def inside(rect: QRect, area: QRect) -> bool:
    return rect.width() <= area.width() and rect.height() <= area.height()


def test_the_main_window_and_the_preview_fit_the_screen(
    qtbot, qsettings_isolated, screen, checkpoint_file, image_folder
):
    from pigeonhole.gui.main_window import MainWindow

    window = MainWindow()  # first start: no saved geometry
    qtbot.addWidget(window)
    assert inside(window.frameGeometry(), screen), window.size()
    window.show()
    tab = window.classify_tab
    try:
        load(qtbot, tab, checkpoint_file)
        run_and_wait(qtbot, tab, [image_folder])
        preview = tab.triage.review_uncertain()
        assert preview is not None
        QApplication.processEvents()
        assert inside(preview.frameGeometry(), screen), preview.size()
        for button in preview.findChildren(QPushButton):  # Previous, Next, Close in view
            corner = button.mapTo(preview, button.rect().bottomRight())
            assert preview.rect().contains(corner), button.text()
        preview.close()
    finally:
        tab.shutdown()


def test_the_dialogs_fit_the_screen(qtbot, qsettings_isolated, screen):
    from pigeonhole.gui.classify.sort_dialog import SortDialog
    from pigeonhole.gui.widgets.label_picker import LabelPicker

    for dialog in (
        SortDialog({"all": 5000, "shown": 300, "selected": 2}),
        LabelPicker([f"class {i}" for i in range(1000)], "class 3"),
    ):
        qtbot.addWidget(dialog)
        dialog.show()
        QApplication.processEvents()
        assert inside(dialog.frameGeometry(), screen), (type(dialog).__name__, dialog.size())
        dialog.close()
