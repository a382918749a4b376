"""The window's save dialogs check the chosen path before any work, with the command line's
checks and as clear a message, and lose nothing (issue 14): exported results, and a trained
model, which is saved in the app's models folder when it cannot be written where asked after
all, with a message that says exactly where."""

from __future__ import annotations

import pytest
from classify_helpers import load, run_and_wait
from PySide6.QtCore import QSettings

from pigeonhole.core.fileio import data_dir
from pigeonhole.core.models.checkpoints import ModelSource, load_model
from tests.core.train_helpers import colour_folders, save_base_checkpoint


def test_exporting_results_to_a_bad_name_says_why_and_keeps_the_results(
    qtbot, tab, checkpoint_file, image_folder, tmp_path
):
    """Reported: a name under a regular file failed with "Cannot write '…/results/out.csv':
    File exists", and a folder with "the name must end in .csv or .json"."""
    load(qtbot, tab, checkpoint_file)
    run_and_wait(qtbot, tab, [image_folder])
    rows = tab.results.rowCount()
    a_file = tmp_path / "results"
    a_file.write_text("a file, not a folder")
    folder = tmp_path / "exports"
    folder.mkdir()
    for bad, says in (
        (a_file / "out.csv", f"{a_file} is a file, not a folder"),
        (folder, f"{folder} is a folder; give a file name"),
        (folder / "out.txt", "out.txt must end in .csv or .json"),
    ):
        assert not tab.export_results(str(bad))
        assert says in tab.ui.banner.text() and tab.ui.banner.property("error"), bad
        assert tab.ui.banner.text().startswith("Not exported: ")
    assert a_file.read_text() == "a file, not a folder" and list(folder.iterdir()) == []
    assert tab.results.rowCount() == rows and not QSettings().contains("classify/export_path")
    assert tab.export_results(str(folder / "out.csv"))  # nothing lost: another name works
    assert len((folder / "out.csv").read_text().strip().splitlines()) == 1 + rows


@pytest.fixture
def trained(qtbot, train_tab, tmp_path):
    """The Train tab with a freshly trained (unsaved) two-class model."""
    data = colour_folders(tmp_path / "colours", per_class=6, classes=("red", "blue"))
    with qtbot.waitSignal(train_tab.scanned, timeout=30_000):
        train_tab.set_data_folder(str(data))
    train_tab.network.set_checkpoint(str(save_base_checkpoint(tmp_path / "base.pth")))
    train_tab.options.epochs_spin.setValue(2)
    with qtbot.waitSignal(train_tab.training_done, timeout=120_000) as done:
        train_tab.start()
    assert done.args[0] is not None
    return train_tab


def test_saving_a_trained_model_to_a_bad_name_is_refused_before_writing(qtbot, trained, tmp_path):
    """Reported: a name under a regular file started the save, which then failed with the
    system's error instead of saying what is wrong with the name."""
    tab = trained
    result = tab.result
    a_file = tmp_path / "models"
    a_file.write_text("a file, not a folder")
    assert tab.save_result(a_file / "colours.pth") is None  # nothing started
    text = tab.status.text()
    assert f"Not saved: cannot write {a_file / 'colours.pth'}: {a_file} is a file" in text
    assert "The trained model is kept" in text
    assert not tab.saving.busy and tab.results.save_button.isEnabled()
    assert tab.result is result and result.saved_to is None
    assert a_file.read_text() == "a file, not a folder"
    assert tab.save_result(tmp_path / "colours.txt") is None
    assert "colours.txt must end in .pth, .pt or .safetensors" in tab.status.text()
    with qtbot.waitSignal(tab.saved, timeout=30_000) as saved:  # another name: saved
        tab.save_result(tmp_path / "ok" / "colours.pth")
    assert saved.args == [tmp_path / "ok" / "colours.pth"] and saved.args[0].is_file()


def test_a_model_that_cannot_be_written_where_asked_goes_to_the_models_folder(
    qtbot, trained, tmp_path
):
    """The folder passes the check, then goes away as the save starts (a USB stick pulled
    out): the model is written to the app's models folder, and the line says where."""
    tab = trained
    usb = tmp_path / "usb"
    usb.mkdir()

    def pull_out(_worker) -> None:  # runs just before the save's thread starts
        usb.rmdir()
        usb.write_text("not a folder any more")

    tab.saving.started.connect(pull_out)
    wanted = usb / "colours.pth"
    with qtbot.waitSignal(tab.saved, timeout=30_000) as saved:
        assert tab.save_result(wanted) == wanted
    where = saved.args[0]
    assert where == data_dir() / "models" / "colours.pth" and where.is_file()
    text = tab.status.text()
    assert f"Could not save to {wanted} (" in text
    assert f"the model was saved to {where} instead" in text
    assert tab.results.saved_label.text() == f"Saved: {where}"
    assert load_model(ModelSource(checkpoint=str(where))).class_names == ["blue", "red"]
    with qtbot.waitSignal(tab.use_in_classify) as used:  # Use in Classify: where it really is
        tab.use_result_in_classify()
    assert used.args == [str(where)]
