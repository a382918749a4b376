"""The Train tab drives a real training run: classes table, curves receiving points, results,
save, Use in Classify, cancel (keep or discard the best epoch), shutdown mid-run."""

from __future__ import annotations

import pytest
import torch
from PySide6.QtCore import Qt

from pigeonhole.core.head import EpochStats
from pigeonhole.core.models.checkpoints import ModelSource, load_model
from pigeonhole.core.synthetic import make_class_folders
from tests.core.train_helpers import colour_folders, save_base_checkpoint


@pytest.fixture
def tab(qtbot, qsettings_isolated, tmp_path):
    from pigeonhole.gui.train.tab import TrainTab

    w = TrainTab()
    qtbot.addWidget(w)
    w.resize(1200, 780)
    w.show()
    yield w
    w.shutdown()


@pytest.fixture
def ready(tab, tmp_path):
    data = colour_folders(tmp_path / "colours", per_class=6, classes=("red", "blue"))
    tab.set_data_folder(str(data))
    tab.network.set_checkpoint(str(save_base_checkpoint(tmp_path / "base.pth")))
    tab.options.patience.setValue(0)
    return tab


def _cancel_after(tab, epochs: int) -> None:
    """Set the stop flag from the worker thread itself once ``epochs`` epochs are done."""

    def on_item(record):
        if isinstance(record, EpochStats) and record.epoch == epochs:
            tab._worker.stop_event.set()

    tab._worker.item.connect(on_item, Qt.ConnectionType.DirectConnection)


def test_train_tab_drives_a_run(qtbot, ready, tmp_path):
    tab = ready
    assert tab.data.table.rowCount() == 3  # two classes and the total
    assert [tab.data.table.item(r, 0).text() for r in range(3)] == ["blue", "red", "Total"]
    assert tab.data.table.item(2, 1).text() == "10" and tab.data.table.item(2, 2).text() == "2"
    assert tab.start_button.isEnabled() and not tab.results.save_button.isEnabled()
    tab.options.epochs_spin.setValue(6)
    with qtbot.waitSignal(tab.training_done, timeout=120_000) as done:
        assert tab.start()
        assert not tab.start_button.isEnabled() and tab.cancel_button.isEnabled()
    result = done.args[0]
    assert result is not None and len(result.history) == 6
    tab.curves.redraw()
    assert tab.curves.point_count("train_loss") == 6
    assert tab.curves.point_count("val_acc") == 6
    assert tab.curves.best_epoch == result.best_epoch
    assert tab.results.table.rowCount() == 2
    assert sum(map(sum, tab.results.confusion.matrix)) == 2
    assert tab.results.wrong.count() == len(result.misclassified)
    assert "accuracy" in tab.status.text() and tab.start_button.isEnabled()
    assert tab.results.save_button.isEnabled()
    tab.grab().save(str(tmp_path / "train_tab.png"))

    out = tab.save_result(tmp_path / "saved" / "colours")
    assert out == tmp_path / "saved" / "colours.pth" and out.is_file()
    loaded = load_model(ModelSource(checkpoint=str(out)))
    assert loaded.class_names == ["blue", "red"] and loaded.arch == "resnet18"
    with qtbot.waitSignal(tab.use_in_classify) as used:
        tab.use_result_in_classify()
    assert used.args == [str(out)]


def test_use_in_classify_saves_first_when_needed(qtbot, ready, tmp_path):
    tab = ready
    tab.options.epochs_spin.setValue(2)
    with qtbot.waitSignal(tab.training_done, timeout=120_000):
        tab.start()
    with qtbot.waitSignal(tab.use_in_classify) as used:
        tab.use_result_in_classify()
    path = used.args[0]
    assert path.endswith(".pth") and torch.load(path, weights_only=True)["class_names"] == [
        "blue",
        "red",
    ]


@pytest.mark.parametrize("keep", [True, False])
def test_cancel_during_head_training_asks_to_keep(qtbot, ready, monkeypatch, keep):
    tab = ready
    asked = []
    monkeypatch.setattr(tab, "ask_keep_cancelled", lambda r: asked.append(r) or keep)
    tab.options.epochs_spin.setValue(500)
    with qtbot.waitSignal(tab.training_done, timeout=120_000) as done:
        tab.start()
        _cancel_after(tab, 3)
    assert len(asked) == 1 and asked[0].cancelled and len(asked[0].history) == 3
    if keep:
        assert done.args[0] is asked[0] and tab.result is asked[0]
        assert "cancelled" in tab.status.text() and tab.results.save_button.isEnabled()
    else:
        assert done.args[0] is None and tab.result is None
        assert "discarded" in tab.status.text() and not tab.results.save_button.isEnabled()
    assert tab.start_button.isEnabled() and not tab.cancel_button.isEnabled()


def test_unusable_folder_and_bad_checkpoint_are_reported(qtbot, tab, tmp_path):
    one = make_class_folders(tmp_path / "one", 3, ("red",), size=(32, 24))
    assert not tab.set_data_folder(str(one))
    assert "at least 2 classes" in tab.data.layout_label.text()
    assert not tab.start_button.isEnabled()
    two = make_class_folders(tmp_path / "two", 3, ("red", "blue"), size=(32, 24))
    assert tab.set_data_folder(str(two))
    assert "Fewer than 5" in tab.data.warnings.text()
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a checkpoint")
    tab.network.set_checkpoint(str(bad))
    with qtbot.waitSignal(tab.training_done, timeout=60_000) as done:
        tab.start()
    assert done.args[0] is None and "bad.pth" in tab.status.text()
    assert tab.start_button.isEnabled()


def test_shutdown_mid_run_stops_the_worker(qtbot, ready):
    tab = ready
    tab.options.epochs_spin.setValue(1000)
    tab.start()
    thread = tab._thread
    qtbot.waitUntil(lambda: len(tab.curves.epochs) > 0, timeout=120_000)
    tab.shutdown()
    assert not thread.isRunning()
