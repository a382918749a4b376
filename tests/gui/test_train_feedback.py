"""Training feedback: a progress line in step with the curves (stage, epoch n of N, best so
far), an overfitting hint, misclassified images that open in the preview and can be moved
to their right class folder (and back), a cancel during feature extraction that answers at
once, options beyond epochs and augmentation under "Advanced"."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer

from pigeonhole.core.data.synthetic import make_class_folders
from pigeonhole.core.training.features import ExtractionProgress
from pigeonhole.core.training.head import EpochStats
from pigeonhole.gui.train.progress import overfitting_hint
from tests.core.train_helpers import colour_folders, save_base_checkpoint


@pytest.fixture
def tab(train_tab):
    return train_tab


def prepare(qtbot, tab, data: Path, base: Path) -> None:
    with qtbot.waitSignal(tab.scanned, timeout=30_000):
        tab.set_data_folder(str(data))
    tab.network.set_checkpoint(str(base))
    tab.options.patience.setValue(0)


def epochs_in(text: str) -> tuple[int, int] | None:
    m = re.search(r"epoch (\d+) of (\d+)", text)
    return (int(m.group(1)), int(m.group(2))) if m else None


def test_the_progress_line_and_the_curves_always_show_the_same_epoch(qtbot, tab, tmp_path):
    data = colour_folders(tmp_path / "colours", per_class=6, classes=("red", "blue"))
    prepare(qtbot, tab, data, save_base_checkpoint(tmp_path / "base.pth"))
    tab.options.epochs_spin.setValue(600)  # long enough for the curves to redraw meanwhile
    seen, extraction = [], []
    tab.training.started.connect(
        lambda worker: worker.item.connect(
            lambda r: isinstance(r, ExtractionProgress) and extraction.append(r),
            Qt.ConnectionType.DirectConnection,
        )
    )
    sampler = QTimer(interval=1)  # looks whenever the event loop is free
    sampler.timeout.connect(
        lambda: seen.append((epochs_in(tab.status.text()), tab.curves.point_count()))
    )
    sampler.start()
    with qtbot.waitSignal(tab.training_done, timeout=120_000) as done:
        assert tab.start()
    sampler.stop()
    assert done.args[0] is not None and extraction
    during = [(line, drawn) for line, drawn in seen if line is not None]
    assert during, "the line never spoke of epochs"
    assert len({line for line, _ in during}) >= 2  # it moved on during the training
    assert all(line == (drawn, 600) for line, drawn in during), during[:10]
    final = tab.status.text()
    assert final.startswith("<b>Done</b>") and done.args[0].kept_line() in final
    assert "lowest validation loss" in final  # the figure the epoch was chosen by


def test_the_epoch_line_says_the_best_so_far(qtbot, tab):
    tab.line.start(30)
    history = [
        EpochStats(1, 1.0, 0.60, 1.1, 0.55, 3.0, True),
        EpochStats(2, 0.8, 0.70, 0.9, 0.68, 3.0, True),
        EpochStats(3, 0.7, 0.75, 0.95, 0.66, 3.0, False),
    ]
    tab.line.epoch(history)
    text = tab.status.text()
    assert "<b>Training</b>" in text and "epoch 3 of 30" in text
    # the epoch kept is the one with the lowest validation loss, not the highest accuracy
    assert "best so far: epoch 2, lowest validation loss 0.9 (accuracy 68.0%)" in text
    assert tab.progress.value() == 3 and tab.progress.maximum() == 30
    assert not tab.line.hint.isVisibleTo(tab)


def test_overfitting_is_pointed_out_when_train_and_validation_diverge():
    def history(pairs, val=True):
        return [
            EpochStats(i + 1, 0.1, t, 0.5 if val else None, v if val else None, 1.0, i == 0)
            for i, (t, v) in enumerate(pairs)
        ]

    assert overfitting_hint(history([(0.9, 0.88)] * 10)) is None  # in step
    assert overfitting_hint(history([(0.98, 0.62)] * 2)) is None  # too early to say
    hint = overfitting_hint(history([(0.8, 0.7), (0.95, 0.66), (0.98, 0.62)]))
    assert hint is not None and "98%" in hint and "62%" in hint and "augmented" in hint
    assert "lowest validation loss" in hint and "best on validation" not in hint
    assert overfitting_hint(history([(0.98, 0.62)] * 5, val=False)) is None  # no validation


def test_misclassified_images_open_in_the_preview_and_move_to_the_right_folder(
    qtbot, tab, tmp_path
):
    data = make_class_folders(tmp_path / "data", 14, ("red", "green", "blue"), size=(64, 48))
    # A weak base (random features of a tiny input) gets some validation images wrong.
    prepare(qtbot, tab, data, save_base_checkpoint(tmp_path / "base.pth", seed=1))
    tab.options.epochs_spin.setValue(10)
    with qtbot.waitSignal(tab.training_done, timeout=120_000) as done:
        tab.start()
    result = done.args[0]
    assert tab.results.wrong.count() > 0
    first = result.misclassified[0]
    tab.results.wrong.itemActivated.emit(tab.results.wrong.item(0))
    preview = tab.review.preview
    assert preview is not None and preview.isVisible() and preview.path == first.path
    text = preview.details.text()
    assert f"In the folder <b>{first.true_label}</b>" in text and first.predicted in text
    assert "1 of" in preview.where.text()

    # The folder is wrong: give the image its right class with its key.
    key = result.class_names.index(first.predicted) + 1
    with qtbot.waitSignal(tab.review.moved, timeout=30_000) as moved:
        qtbot.keyClick(preview, getattr(Qt.Key, f"Key_{key}"))
    old, new = moved.args
    assert old == first.path and not Path(old).exists()
    assert Path(new).is_file() and Path(new).parent == data / first.predicted
    assert f"now in: {first.predicted}" in tab.results.wrong.item(0).text()
    assert tab.review.moved_to == {0: first.predicted}
    with qtbot.waitSignal(tab.scanned, timeout=30_000) as scanned:  # the counts follow
        pass
    counts = {c.name: c.train + c.val for c in scanned.args[0].counts()}
    assert counts[first.predicted] == 15 and counts[first.true_label] == 13

    with qtbot.waitSignal(tab.review.moved, timeout=30_000) as back:  # Ctrl+Z puts it back
        qtbot.keyClick(preview, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert back.args == [new, old] and Path(old).is_file() and not Path(new).exists()
    assert list(data.glob(".pigeonhole-moves-*")) == []  # no record left behind
    preview.close()


def test_cancel_during_feature_extraction_answers_at_once(qtbot, tab, tmp_path):
    data = make_class_folders(tmp_path / "many", 150, ("red", "blue"), size=(96, 72))
    prepare(qtbot, tab, data, save_base_checkpoint(tmp_path / "base.pth"))
    extracting = []
    tab.training.started.connect(
        lambda worker: worker.item.connect(
            lambda r: isinstance(r, ExtractionProgress) and r.done > 0 and extracting.append(r),
            Qt.ConnectionType.DirectConnection,
        )
    )
    tab.start()
    qtbot.waitUntil(lambda: bool(extracting) and tab._stage == "extract", timeout=60_000)
    thread = tab.training.thread
    ended = []
    tab.training_done.connect(ended.append)
    tab.cancel_button.click()
    # Answered within the click: no waiting for the batch on its way through the network.
    assert ended == [None] and "Cancelled" in tab.status.text()
    assert tab.start_button.isEnabled() and not tab.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: not thread.isRunning(), timeout=60_000)  # and it does stop


def test_options_beyond_epochs_and_augmentation_are_under_advanced(qtbot, tab):
    opts = tab.options
    assert opts.epochs_spin.isVisibleTo(tab) and opts.augment.isVisibleTo(tab)
    hidden = (opts.lr, opts.batch, opts.wd, opts.optimizer, opts.balanced, opts.patience)
    assert not any(w.isVisibleTo(tab) for w in (*hidden, opts.seed_spin))
    opts.advanced_button.click()
    assert all(w.isVisibleTo(tab) for w in (*hidden, opts.seed_spin))
    opts.lr.setValue(0.05)
    opts.advanced_button.click()
    assert opts.config(val_split=0.2).lr == 0.05  # hidden, still used


def test_the_loss_axis_reads_plain_values(qtbot, tab):
    """Issue 27: losses of 0.6-0.95 read as ticks 600-950 under "cross-entropy (x0.001)"."""
    from PySide6.QtWidgets import QApplication

    curves = tab.curves
    for i, loss in enumerate((0.95, 0.8, 0.7, 0.6)):
        curves.add_epoch(EpochStats(i + 1, loss, 0.7, loss + 0.01, 0.6, 3.0, True))
    curves.redraw()
    for _ in range(5):  # pyqtgraph updates its labels from the event loop
        QApplication.processEvents()
    for plot in (curves.loss_plot, curves.acc_plot):
        for side in ("left", "bottom"):
            axis = plot.getAxis(side)
            assert axis.autoSIPrefixScale == 1.0 and "x0.0" not in axis.labelString()


def test_empty_plots_say_no_run_yet(qtbot, tab):
    """Issue 27: before any run the plots showed empty 0-1 axes with a crowded scale."""
    from pigeonhole.gui.widgets.plots import NO_RUN, TimingPanel

    curves = tab.curves
    for plot in (curves.loss_plot, curves.acc_plot):
        assert plot.empty_note.isVisible() and plot.empty_note.textItem.toPlainText() == NO_RUN
        assert not plot.getAxis("left").isVisible() and not plot.getAxis("bottom").isVisible()
    curves.add_epoch(EpochStats(1, 0.9, 0.6, 0.95, 0.5, 3.0, True))
    curves.redraw()
    for plot in (curves.loss_plot, curves.acc_plot):
        assert not plot.empty_note.isVisible() and plot.getAxis("left").isVisible()
    curves.clear()  # a new run: empty again
    assert curves.loss_plot.empty_note.isVisible()

    panel = TimingPanel()
    qtbot.addWidget(panel)
    for plot in (panel.time_plot, panel.hist_plot):
        assert plot.empty_note.isVisible() and not plot.getAxis("bottom").isVisible()
