"""Fits a laptop: at 1024x640 both tabs work, no widget is narrower than its text, the grid
keeps two columns or more, the side panes turn into tabs, and the Timing pane can be hidden
and stays hidden."""

from __future__ import annotations

import pytest
from classify_helpers import labelled_folders, load, run_and_wait
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QCheckBox,
    QComboBox,
    QLabel,
    QPushButton,
    QRadioButton,
    QToolButton,
    QWidget,
)

SMALL = (1024, 640)


def settle(window, size) -> None:
    window.resize(*size)
    for _ in range(5):
        QApplication.processEvents()


def text_width(w: QWidget, text: str) -> int:
    return w.fontMetrics().horizontalAdvance(text)


def cut_widgets(window) -> list[str]:
    """Visible widgets narrower than their text (buttons, one-line labels, check boxes,
    combo boxes), described for the failure message."""
    cut = []
    for w in window.findChildren(QWidget):
        if not w.isVisibleTo(window) or w.width() <= 0:
            continue
        if isinstance(w, QCheckBox | QRadioButton):
            need = w.sizeHint().width()
        elif isinstance(w, QPushButton | QToolButton) and isinstance(w, QAbstractButton):
            if not w.text():
                continue
            need = text_width(w, w.text().replace("&", "")) + 8
        elif isinstance(w, QLabel):
            if (
                w.wordWrap()
                or not w.text()
                or "<" in w.text()
                or w.pixmap()
                and not w.pixmap().isNull()
            ):
                continue
            need = text_width(w, w.text())
        elif isinstance(w, QComboBox):
            need = w.minimumSizeHint().width()
        else:
            continue
        if w.width() < need:
            name = w.text() if hasattr(w, "text") else w.currentText()
            cut.append(f"{type(w).__name__} {name!r}: {w.width()} < {need}")
    return cut


@pytest.fixture
def classified(qtbot, window, checkpoint_file, image_folder):
    tab = window.classify_tab
    load(qtbot, tab, checkpoint_file)
    run_and_wait(qtbot, tab, [image_folder])
    return window


def test_both_tabs_fit_1024x640_without_cut_text(qtbot, window, checkpoint_file, image_folder):
    settle(window, SMALL)
    assert window.width() == 1024 and window.height() <= 640
    assert cut_widgets(window) == []  # the empty window's start page
    tab = window.classify_tab
    load(qtbot, tab, checkpoint_file)
    run_and_wait(qtbot, tab, [image_folder])
    settle(window, SMALL)
    assert cut_widgets(window) == []
    grid = tab.ui.grid
    columns = grid.viewport().width() // grid.sizeHintForIndex(grid.model().index(0, 0)).width()
    assert columns >= 2
    tab.ui.tile_slider.setValue(tab.ui.tile_slider.maximum())  # the largest tiles: still 2
    settle(window, SMALL)
    assert grid.viewport().width() // (grid.tile_size + 4) >= 2
    assert tab.ui.side.mode == "tabs"  # not enough height for the panes one above the other
    window.tabs.setCurrentWidget(window.train_tab)
    settle(window, SMALL)
    assert cut_widgets(window) == []


def test_the_evaluation_pane_fits_1024x640(qtbot, window, checkpoint_file, tmp_path):
    """Class-named folders at 1024x640: three side panes as tabs, every tab title in view,
    the per-class table without a horizontal scroll bar, no cut text (the filter included)."""
    tab = window.classify_tab
    load(qtbot, tab, checkpoint_file)
    run_and_wait(qtbot, tab, [labelled_folders(tmp_path)])
    panel = tab.trust.evaluation.panel
    qtbot.waitUntil(lambda: panel.report is not None)
    settle(window, SMALL)
    assert tab.ui.side.mode == "tabs" and tab.ui.side.tabs.count() == 3
    bar = tab.ui.side.tabs.tabBar()
    assert all(bar.tabRect(i).right() <= bar.width() for i in range(bar.count()))
    assert panel.isVisibleTo(window) and panel.table.isVisibleTo(window)
    assert not panel.table.horizontalScrollBar().isVisible()
    assert tab.ui.filters.disagreements_only.isVisibleTo(window)
    assert cut_widgets(window) == []
    settle(window, (1400, 900))  # one above the other needs more height for three panes
    assert tab.ui.side.mode == "tabs"
    settle(window, (1600, 1200))
    assert tab.ui.side.mode == "stacked" and panel.isVisibleTo(window)


def test_the_panes_stack_on_a_big_screen_and_timing_can_be_hidden(qtbot, classified):
    window = classified
    tab = window.classify_tab
    settle(window, (1920, 1080))
    assert tab.ui.side.mode == "stacked"
    assert tab.ui.timing.isVisibleTo(window) and tab.ui.detail.isVisibleTo(window)
    tab.act_show_timing.trigger()  # Classify > Show timing, unchecked
    assert not tab.ui.timing.isVisibleTo(window) and tab.ui.detail.isVisibleTo(window)
    assert QSettings().value("classify/show_timing", True, type=bool) is False
    window.close()

    from pigeonhole.gui.main_window import MainWindow

    again = MainWindow()  # remembered
    qtbot.addWidget(again)
    again.show()
    assert not again.classify_tab.act_show_timing.isChecked()
    assert not again.classify_tab.ui.timing.isVisibleTo(again)
    again.classify_tab.shutdown()


def test_train_results_fit_1024x640(qtbot, window, tmp_path):
    """Precision, recall and F1 used to hide behind a scroll bar in a small window."""
    from tests.core.train_helpers import colour_folders, save_base_checkpoint

    train = window.train_tab
    window.tabs.setCurrentWidget(train)
    settle(window, SMALL)
    data = colour_folders(tmp_path / "colours", per_class=6, classes=("red", "green", "blue"))
    with qtbot.waitSignal(train.scanned, timeout=30_000):
        train.set_data_folder(str(data))
    train.network.set_checkpoint(str(save_base_checkpoint(tmp_path / "base.pth")))
    train.options.epochs_spin.setValue(3)
    with qtbot.waitSignal(train.training_done, timeout=120_000):
        train.start()
    train.views.setCurrentWidget(train.results)
    settle(window, SMALL)
    table = train.results.table
    assert table.horizontalScrollBar().maximum() == 0  # every column in view
    header = table.horizontalHeader()
    for col in range(table.columnCount()):  # and no column narrower than its heading
        title = table.horizontalHeaderItem(col).text()
        assert header.sectionSize(col) >= text_width(table, title), title
    assert cut_widgets(window) == []


def test_the_model_panel_fits_1024x640_with_every_line_of_its_text(qtbot, window, checkpoint_file):
    """The left column used to be a scroll bar narrower than its content (a horizontal scroll
    bar, the panel's right edge cut), and the wrapped lines under Network and Preprocessing
    were squeezed to fewer lines than their text needs."""
    tab = window.classify_tab
    mp = tab.ui.model_panel
    load(qtbot, tab, checkpoint_file)
    assert not mp.isVisibleTo(window)  # folded to its line once loaded
    tab.ui.model_line.click()  # opened again: it stays open while the person has it open
    mp.preprocessing.set_preset("classification-pytorch-meanstd-letterbox")  # long details
    with qtbot.waitSignal(mp.model_loaded, timeout=30_000):
        mp.request_load()
    settle(window, SMALL)
    window.resize(1025, 640)  # and once more, as when the person resizes the window
    settle(window, SMALL)
    assert tab.ui.left.horizontalScrollBar().maximum() == 0
    for label in (mp.arch_info, mp.preprocessing.details, mp.status):
        assert label.isVisibleTo(window) and label.wordWrap()
        assert label.height() >= label.heightForWidth(label.width()), label.text()
    assert cut_widgets(window) == []


def fully_visible_tiles(grid) -> int:
    """Tiles of the grid whose whole cell is inside its viewport."""
    view = grid.viewport().rect()
    model = grid.model()
    return sum(view.contains(grid.visualRect(model.index(r, 0))) for r in range(model.rowCount()))


@pytest.mark.parametrize("size, least", [((1366, 768), 20), ((1024, 640), 12)])
def test_the_grid_has_room_on_a_laptop_screen(
    qtbot, window, checkpoint_file, tmp_path, size, least
):
    """Issue 27: at the default tile size, once a model is loaded and a folder classified (its
    "Model ready" banner still up), 1366x768 showed 12 tiles and 1024x640 4."""
    from classify_helpers import make_images

    from pigeonhole.gui.widgets.thumbnail_view import DEFAULT_TILE

    tab = window.classify_tab
    folder = tmp_path / "many"
    make_images(folder, 40)
    load(qtbot, tab, checkpoint_file)
    run_and_wait(qtbot, tab, [folder])
    settle(window, size)
    tab.ui.grid.doItemsLayout()
    assert tab.ui.grid.tile_size == DEFAULT_TILE
    assert fully_visible_tiles(tab.ui.grid) >= least
    assert cut_widgets(window) == []
