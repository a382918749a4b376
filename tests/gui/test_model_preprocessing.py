"""The Model panel's Preprocessing row (issue 16): core's presets, remembered with the checkpoint
they were chosen for and never carried over to another; the summary says the preprocessing in
use and where it came from (a checkpoint classification-pytorch saved is recognised)."""

from __future__ import annotations

import pytest
import torch
import torchvision
from classify_helpers import CLASSES, SMALL, load

from pigeonhole.core.models.transforms import CP_CROP, CP_MEANSTD_CROP

RECOGNISED = "Preprocessing: classification-pytorch: 224 → crop 224, [-1, 1]"


@pytest.fixture
def cp_checkpoint(tmp_path):
    """A MobileNetV2 as bubbliiiing/classification-pytorch's training leaves it: a raw state
    dict named epNNN-loss…-val_loss….pth, with cls_classes.txt beside it."""
    logs = tmp_path / "logs"
    logs.mkdir()
    torch.manual_seed(0)
    path = logs / "ep030-loss0.081-val_loss0.094.pth"
    torch.save(torchvision.models.mobilenet_v2(num_classes=len(CLASSES)).state_dict(), path)
    (logs / "cls_classes.txt").write_text("\n".join(CLASSES) + "\n")
    return path


def pick(qtbot, panel, preset: str | None):
    """Choose ``preset`` in the Preprocessing list as a person does; the model reloads."""
    combo = panel.preprocessing.combo
    row = combo.findData(preset) if preset else 0
    assert row >= 0, preset
    combo.setCurrentIndex(row)
    with qtbot.waitSignal(panel.model_loaded, timeout=30_000) as blocker:
        combo.activated.emit(row)
    return blocker.args[0]


def same_recipe(a, b) -> bool:
    fields = ("resize", "crop", "mean", "std", "resize_mode")
    return all(getattr(a, f) == getattr(b, f) for f in fields)


def test_the_summary_shows_the_recognised_preprocessing(qtbot, tab, cp_checkpoint):
    loaded = load(qtbot, tab, cp_checkpoint)
    mp = tab.ui.model_panel
    assert loaded.arch == "mobilenet_v2" and loaded.class_names == list(CLASSES)
    assert same_recipe(loaded.transform, CP_CROP)
    text = mp.status.text()
    assert RECOGNISED in text and "(recognised: " in text
    assert "classification-pytorch-meanstd" in text  # what else it may be, and its preset
    assert mp.preprocessing.preset() is None  # Automatic: what the model is recognised by
    assert not mp.preprocessing.details.isVisibleTo(mp)


def test_a_preset_is_remembered_with_its_checkpoint_and_no_other(
    qtbot, tab, cp_checkpoint, checkpoint_file
):
    from pigeonhole.gui.main_window import MainWindow

    mp = tab.ui.model_panel
    load(qtbot, tab, cp_checkpoint)
    loaded = pick(qtbot, mp, "classification-pytorch-meanstd")
    assert loaded.source == str(cp_checkpoint)
    assert same_recipe(loaded.transform, CP_MEANSTD_CROP)
    text = mp.status.text()
    assert "Preprocessing: classification-pytorch: 224 → crop 224, mean/std" in text
    assert "(chosen by you: preset classification-pytorch-meanstd, instead of " in text
    assert mp.preprocessing.details.isVisibleTo(mp)
    assert "November 2022" in mp.preprocessing.details.text()

    # Another checkpoint: its own preprocessing, not the choice made for the first one.
    other = load(qtbot, tab, checkpoint_file)
    assert mp.preprocessing.preset() is None
    assert (other.transform.resize, other.transform.crop) == (SMALL.resize, SMALL.crop)
    assert "stated by the checkpoint" in mp.status.text()
    mp.set_checkpoint_path(str(cp_checkpoint))  # the first one again: its choice comes back
    assert mp.preprocessing.preset() == "classification-pytorch-meanstd"
    mp.set_checkpoint_path(str(checkpoint_file))
    assert mp.preprocessing.preset() is None

    # After a restart: the last model used loads as it was, and the choice stays with its file.
    load(qtbot, tab, cp_checkpoint)
    assert same_recipe(mp.loaded.transform, CP_MEANSTD_CROP)
    w2 = MainWindow()
    qtbot.addWidget(w2)
    mp2 = w2.classify_tab.ui.model_panel
    qtbot.waitUntil(lambda: mp2.loaded is not None and not mp2.busy, timeout=30_000)
    assert mp2.loaded.source == str(cp_checkpoint)
    assert same_recipe(mp2.loaded.transform, CP_MEANSTD_CROP)
    assert mp2.preprocessing.preset() == "classification-pytorch-meanstd"
    w2.classify_tab.load_checkpoint_file(str(checkpoint_file))
    qtbot.waitUntil(lambda: mp2.loaded.source == str(checkpoint_file) and not mp2.busy)
    assert mp2.preprocessing.preset() is None and mp2.loaded.transform.crop == SMALL.crop
    w2.classify_tab.shutdown()

    # Automatic again: what the file is recognised by, and nothing remembered for it.
    load(qtbot, tab, cp_checkpoint)
    assert same_recipe(pick(qtbot, mp, None).transform, CP_CROP)
    mp.set_checkpoint_path(str(checkpoint_file))
    mp.set_checkpoint_path(str(cp_checkpoint))
    assert mp.preprocessing.preset() is None
