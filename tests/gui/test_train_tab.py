"""The Train tab drives a real training run: classes table, curves receiving points, results,
save, Use in Classify, cancel (keep or discard the best epoch), shutdown mid-run; the dataset
scan and the checkpoint save run off the GUI thread."""

from __future__ import annotations

import threading

import pytest
import torch
from PySide6.QtCore import Qt

from pigeonhole.core.data.synthetic import make_class_folders
from pigeonhole.core.models.checkpoints import ModelSource, load_model
from pigeonhole.core.training.fine_tune import TrainResult
from pigeonhole.core.training.head import EpochStats
from tests.core.train_helpers import colour_folders, save_base_checkpoint


@pytest.fixture
def tab(train_tab):
    return train_tab


def scan(qtbot, tab, folder):
    """Set the data folder and wait for its scan; returns the plan (None when unusable)."""
    with qtbot.waitSignal(tab.scanned, timeout=30_000) as scanned:
        tab.set_data_folder(str(folder))
    return scanned.args[0]


@pytest.fixture
def ready(qtbot, tab, tmp_path):
    data = colour_folders(tmp_path / "colours", per_class=6, classes=("red", "blue"))
    assert scan(qtbot, tab, data) is not None
    tab.network.set_checkpoint(str(save_base_checkpoint(tmp_path / "base.pth")))
    tab.options.patience.setValue(0)
    return tab


def _cancel_after(tab, epochs: int) -> None:
    """Set the stop flag from the worker thread itself once ``epochs`` epochs are done (the
    training worker starts after the folder's rescan: hook it as it starts)."""

    def on_started(worker):
        def on_item(record):
            if isinstance(record, EpochStats) and record.epoch == epochs:
                worker.stop_event.set()

        worker.item.connect(on_item, Qt.ConnectionType.DirectConnection)

    tab.training.started.connect(on_started)


def _record_threads(monkeypatch, target, name: str) -> list[threading.Thread]:
    """Replace ``target.name`` by a wrapper that records the thread it runs in."""
    real = getattr(target, name)
    threads = []

    def recording(*args, **kwargs):
        threads.append(threading.current_thread())
        return real(*args, **kwargs)

    monkeypatch.setattr(target, name, recording)
    return threads


def test_train_tab_drives_a_run(qtbot, ready, tmp_path, monkeypatch):
    tab = ready
    save_threads = _record_threads(monkeypatch, TrainResult, "save")
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

    with qtbot.waitSignal(tab.saved, timeout=30_000) as saved:
        out = tab.save_result(tmp_path / "saved" / "colours")
        assert "Saving" in tab.status.text() and not tab.results.save_button.isEnabled()
    assert saved.args == [out]
    assert out == tmp_path / "saved" / "colours.pth" and out.is_file()
    assert len(save_threads) == 1 and save_threads[0] is not threading.main_thread()
    assert tab.results.save_button.isEnabled() and "Saved to" in tab.status.text()
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
    assert scan(qtbot, tab, one) is None
    assert "at least 2 classes" in tab.data.layout_label.text()
    assert not tab.start_button.isEnabled()
    two = make_class_folders(tmp_path / "two", 3, ("red", "blue"), size=(32, 24))
    assert scan(qtbot, tab, two) is not None
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
    qtbot.waitUntil(lambda: len(tab.curves.epochs) > 0, timeout=120_000)
    thread = tab.training.thread
    tab.shutdown()
    assert not thread.isRunning()


def test_the_dataset_scan_runs_off_the_gui_thread(qtbot, tab, tmp_path, monkeypatch):
    from pigeonhole.gui.train import tasks

    threads = _record_threads(monkeypatch, tasks, "plan_dataset")
    data = colour_folders(tmp_path / "colours", per_class=6, classes=("red", "blue"))
    with qtbot.waitSignal(tab.scanned, timeout=30_000) as scanned:
        tab.set_data_folder(str(data))
        assert "Scanning" in tab.status.text() and not tab.start_button.isEnabled()
    plan = scanned.args[0]
    assert plan is not None and plan.num_classes == 2 and tab.plan is plan
    assert len(threads) == 1 and threads[0] is not threading.main_thread()
    assert tab.data.table.rowCount() == 3 and "Ready" in tab.status.text()
    assert tab.start_button.isEnabled()


def test_a_failed_training_shows_its_message_escaped(qtbot, tab, tmp_path):
    """The status label is rich text: a message with markup-like characters shows as text."""
    data = colour_folders(tmp_path / "colours", per_class=6, classes=("red", "blue"))
    scan(qtbot, tab, data)
    tab.network.set_checkpoint(str(tmp_path / "<missing> & gone.pth"))
    with qtbot.waitSignal(tab.training_done, timeout=60_000) as done:
        assert tab.start()
    assert done.args[0] is None
    assert "&lt;missing&gt; &amp; gone.pth" in tab.status.text()
    assert "<missing>" not in tab.status.text()


def test_a_rescan_that_fails_at_start_ends_the_training(qtbot, ready, monkeypatch):
    from pigeonhole.core.errors import DataError
    from pigeonhole.gui.train import tasks

    def unusable(*_args, **_kwargs):
        raise DataError("The folder went away.")

    monkeypatch.setattr(tasks, "plan_dataset", unusable)
    with qtbot.waitSignal(ready.training_done, timeout=30_000) as done:
        assert ready.start()
        assert "Scanning" in ready.status.text() and ready.cancel_button.isEnabled()
    assert done.args[0] is None and ready.plan is None
    assert "went away" in ready.data.layout_label.text()
    assert not ready.start_button.isEnabled() and not ready.cancel_button.isEnabled()
