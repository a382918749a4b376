"""Room for the images (issue 27): the Model panel folds to one line once a model is loaded and
opens again with a click; the side panes can be closed and stay closed; the banner and the
"other model" bar share one line above the grid."""

from __future__ import annotations

from classify_helpers import load, run_and_wait
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication


def settle(window, size=(1366, 768)) -> None:
    window.resize(*size)
    for _ in range(5):
        QApplication.processEvents()


def test_the_model_panel_folds_to_one_line_and_opens_with_a_click(
    qtbot, window, checkpoint_file, other_checkpoint, image_folder
):
    tab = window.classify_tab
    ui, mp = tab.ui, tab.ui.model_panel
    settle(window)
    assert mp.isVisibleTo(window)  # no model yet: the panel is where to choose one
    load(qtbot, tab, checkpoint_file)
    settle(window)
    assert not mp.isVisibleTo(window) and ui.model_line.isVisibleTo(window)
    line = ui.model_line.text()
    assert "resnet18" in line and "colours.pth" in line and "3 classes" in line
    assert "engine" in line  # before a run: the engine chosen
    run_and_wait(qtbot, tab, [image_folder])
    settle(window)
    width = ui.grid.width()
    assert "ONNX Runtime" in ui.model_line.text() or "PyTorch" in ui.model_line.text()
    assert str(checkpoint_file) in ui.model_line.toolTip()

    ui.model_line.click()  # opens again, on the left
    settle(window)
    assert mp.isVisibleTo(window) and ui.grid.width() < width
    load(qtbot, tab, other_checkpoint)  # opened by hand: it stays open
    settle(window)
    assert mp.isVisibleTo(window) and "other.pth" in ui.model_line.text()
    ui.model_line.click()  # and folds with another click
    settle(window)
    assert not mp.isVisibleTo(window) and ui.grid.width() == width


def test_a_failed_load_opens_the_model_panel(qtbot, window, checkpoint_file, tmp_path):
    tab = window.classify_tab
    load(qtbot, tab, checkpoint_file)
    assert not tab.ui.model_panel.isVisibleTo(window)
    bad = tmp_path / "broken.pth"
    bad.write_bytes(b"not a checkpoint")
    with qtbot.waitSignal(tab.ui.model_panel.load_failed, timeout=30_000):
        tab.load_checkpoint_file(str(bad))
    assert tab.ui.model_panel.isVisibleTo(window)


def test_side_panes_can_be_closed_and_stay_closed(qtbot, window, checkpoint_file, image_folder):
    tab = window.classify_tab
    load(qtbot, tab, checkpoint_file)
    run_and_wait(qtbot, tab, [image_folder])
    settle(window)
    width = tab.ui.grid.width()
    actions = tab.pane_actions.actions
    actions["Details"].trigger()
    settle(window)
    assert not tab.ui.detail.isVisibleTo(window) and tab.ui.side.isVisibleTo(window)
    actions["Timing"].trigger()  # no pane left: the column goes, the grid takes its width
    settle(window)
    assert not tab.ui.side.isVisibleTo(window) and tab.ui.grid.width() > width
    assert QSettings().value("classify/show_details", True, type=bool) is False
    window.close()

    from pigeonhole.gui.main_window import MainWindow

    again = MainWindow()  # remembered
    qtbot.addWidget(again)
    again.show()
    settle(again)
    assert not again.classify_tab.pane_actions.actions["Details"].isChecked()
    assert not again.classify_tab.ui.side.isVisibleTo(again)
    again.classify_tab.pane_actions.actions["Details"].trigger()
    settle(again)
    assert again.classify_tab.ui.detail.isVisibleTo(again)
    again.classify_tab.shutdown()


def test_two_messages_push_the_grid_down_once(qtbot, window):
    """The banner and the "other model" bar used to take a line each above the grid."""
    tab = window.classify_tab
    settle(window)
    top = tab.ui.drop_zone.y()
    tab.notify("Model ready: resnet18 with 3 classes.")
    settle(window)
    one = tab.ui.drop_zone.y()
    assert one > top
    tab.ui.stale_bar.text.setText("<b>12 results come from colours.pth</b>, not from other.pth.")
    tab.ui.stale_bar.setVisible(True)
    settle(window)
    banner, bar = tab.ui.banner, tab.ui.stale_bar
    assert bar.isVisibleTo(window) and banner.isVisibleTo(window)
    assert bar.y() <= banner.y() + banner.height() // 2  # side by side
    assert tab.ui.drop_zone.y() - top < banner.height() + bar.height()  # pushed down once


def test_the_counts_follow_the_run(qtbot, window, checkpoint_file, tmp_path):
    """Issue 27: the class filter said "All classes (0)" while 32 results were on screen, and
    "Showing N of M" lagged behind the run."""
    from classify_helpers import make_images

    tab = window.classify_tab
    folder = tmp_path / "many"
    make_images(folder, 30)
    load(qtbot, tab, checkpoint_file)
    tab.ui.model_panel.batch.setValue(4)  # several batches
    tab.ui.filters.min_conf.setValue(99)  # a filter hides some
    seen = []

    def look(_n) -> None:
        f = tab.ui.filters
        seen.append((f.label.itemText(0), f.shown.text(), tab.results.rowCount()))

    tab.runs.batch_added.connect(look)
    run_and_wait(qtbot, tab, [folder])
    assert seen
    for all_classes, shown, total in seen:
        assert all_classes == f"All classes ({total:,})"
        assert shown.endswith(f" of {total:,}") or shown == f"{total:,} images", shown
