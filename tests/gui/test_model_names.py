"""Class names belong to their model (issue 12, item 1): a names file is tied to the checkpoint
it was chosen for, replacing the names a checkpoint stores needs a yes, "Use in Classify" loads
the trained model with its own names, the summary says which names and preprocessing are in use
and where they came from, and a failed load leaves every field showing the model still in use.
"""

from __future__ import annotations

import html
import shutil
from pathlib import Path

import pytest
from classify_helpers import CLASSES, SMALL, drop_paths, load
from PySide6.QtCore import QSettings

from pigeonhole.core.models.loaded import OWN_NAMES
from pigeonhole.gui.widgets.model_summary import WARNING_COLOUR

REVERSED = ("blue", "green", "red")


@pytest.fixture
def reversed_names(tmp_path) -> Path:
    """A names file left over from another model: the checkpoint's classes, reversed."""
    path = tmp_path / "reversed.txt"
    path.write_text("\n".join(REVERSED) + "\n")
    return path


@pytest.fixture
def trained(tmp_path, checkpoint_file) -> Path:
    """Another checkpoint that stores its names (as one the Train tab has just saved)."""
    path = tmp_path / "trained" / "colours-resnet18.pth"
    path.parent.mkdir()
    shutil.copy(checkpoint_file, path)
    return path


def load_with_names(qtbot, tab, checkpoint: Path, names: Path):
    mp = tab.ui.model_panel
    mp.set_checkpoint_path(str(checkpoint))
    mp.classes.setText(str(names))
    with qtbot.waitSignal(mp.model_loaded, timeout=30_000) as blocker:
        mp.request_load()
    return blocker.args[0]


def test_use_in_classify_loads_the_trained_model_with_its_own_names(
    qtbot, window, checkpoint_file, reversed_names, trained, monkeypatch
):
    """Reported: a names file left in the Classes box relabelled the model the Train tab
    handed over ("class names from cls_classes.txt", ignoring the names saved inside it)."""
    tab = window.classify_tab
    monkeypatch.setattr(tab, "_ask", lambda q: True)
    assert load_with_names(qtbot, tab, checkpoint_file, reversed_names).class_names == list(
        REVERSED
    )
    mp = tab.ui.model_panel
    with qtbot.waitSignal(mp.model_loaded, timeout=30_000) as blocker:
        window.train_tab.use_in_classify.emit(str(trained))
    loaded = blocker.args[0]
    assert loaded.class_names == list(CLASSES) and loaded.names_from == OWN_NAMES
    assert loaded.source == str(trained) and not loaded.warnings
    assert mp.classes.text() == "" and window.tabs.currentWidget() is tab


def test_use_in_classify_ignores_a_names_file_chosen_for_the_same_path(
    qtbot, window, reversed_names, trained, monkeypatch
):
    """A new model saved over a file that had a names file chosen for it: the new model's
    own names, not the old file's choice."""
    tab = window.classify_tab
    monkeypatch.setattr(tab, "_ask", lambda q: True)
    load_with_names(qtbot, tab, trained, reversed_names)
    with qtbot.waitSignal(tab.ui.model_panel.model_loaded, timeout=30_000) as blocker:
        window.train_tab.use_in_classify.emit(str(trained))
    assert blocker.args[0].class_names == list(CLASSES)
    assert tab.ui.model_panel.classes.text() == ""


def test_a_names_file_never_follows_another_checkpoint(
    qtbot, tab, checkpoint_file, reversed_names, trained, monkeypatch
):
    """Reported: with a reversed names file in the Classes box, a dropped trained checkpoint
    had every label swapped."""
    monkeypatch.setattr(tab, "_ask", lambda q: True)
    load_with_names(qtbot, tab, checkpoint_file, reversed_names)
    mp = tab.ui.model_panel
    with qtbot.waitSignal(mp.model_loaded, timeout=30_000) as blocker:
        drop_paths(tab.ui.drop_zone, [trained])
    assert blocker.args[0].class_names == list(CLASSES)
    assert mp.classes.text() == ""
    mp.set_checkpoint_path(str(checkpoint_file))  # back to the first: its own choice again
    assert mp.classes.text() == str(reversed_names)
    mp.set_checkpoint_path(str(trained))
    assert mp.classes.text() == ""


def test_settings_bring_a_names_file_back_only_for_its_checkpoint(
    qtbot, qsettings_isolated, checkpoint_file, reversed_names, trained
):
    """Reported: the reversed names came back after restarting the app (for another model)."""
    from pigeonhole.gui.main_window import MainWindow

    s = QSettings()  # as an older version left them: a names file not tied to a checkpoint
    s.setValue("model/weights", "checkpoint")
    s.setValue("model/checkpoint", str(trained))
    s.setValue("model/classes", str(reversed_names))
    w = MainWindow()
    qtbot.addWidget(w)
    tab = w.classify_tab
    tab._ask = lambda q: True
    qtbot.waitUntil(lambda: tab.ui.model_panel.loaded is not None, timeout=30_000)
    assert tab.ui.model_panel.loaded.class_names == list(CLASSES)
    assert tab.ui.model_panel.classes.text() == ""
    load_with_names(qtbot, tab, checkpoint_file, reversed_names)  # chosen for this one
    load(qtbot, tab, trained)
    w.close()

    w2 = MainWindow()  # loads the last model used, with nothing of the other's
    qtbot.addWidget(w2)
    mp = w2.classify_tab.ui.model_panel
    qtbot.waitUntil(lambda: mp.loaded is not None and not mp.busy, timeout=30_000)
    assert mp.loaded.source == str(trained) and mp.loaded.class_names == list(CLASSES)
    assert mp.classes.text() == ""
    mp.set_checkpoint_path(str(checkpoint_file))
    assert mp.classes.text() == str(reversed_names)
    w2.close()


@pytest.mark.parametrize("answer", [True, False], ids=["yes", "no"])
def test_names_that_replace_stored_names_need_a_yes(
    qtbot, tab, checkpoint_file, reversed_names, monkeypatch, answer
):
    questions = []
    monkeypatch.setattr(tab, "_ask", lambda q: questions.append(q) or answer)
    loaded = load_with_names(qtbot, tab, checkpoint_file, reversed_names)
    assert len(questions) == 1
    assert "reversed.txt" in questions[0] and "colours.pth" in questions[0]
    assert "blue, green, red" in questions[0] and "red, green, blue" in questions[0]
    mp = tab.ui.model_panel
    summary = mp.status.text()
    assert html.escape(loaded.names_line()) in summary
    assert "Preprocessing: custom: 40 → crop 32" in summary
    assert "stated by the checkpoint" in summary
    if answer:
        assert loaded.class_names == list(REVERSED)
        assert "reversed.txt, chosen by you" in loaded.names_line()
        assert WARNING_COLOUR in summary and "replace the names stored" in summary
        assert mp.classes.text() == str(reversed_names)
    else:
        assert loaded.class_names == list(CLASSES) and loaded.names_from == OWN_NAMES
        assert "(stored in the checkpoint)" in summary and WARNING_COLOUR not in summary
        assert mp.classes.text() == ""  # what is in use, and remembered so
        mp.set_checkpoint_path("")
        mp.set_checkpoint_path(str(checkpoint_file))
        assert mp.classes.text() == ""


def test_the_same_names_as_stored_are_not_a_question(qtbot, tab, checkpoint_file, tmp_path):
    same = tmp_path / "same.txt"
    same.write_text("\n".join(CLASSES))
    tab._ask = lambda q: pytest.fail(f"asked: {q}")
    loaded = load_with_names(qtbot, tab, checkpoint_file, same)
    assert loaded.class_names == list(CLASSES) and not loaded.warnings


def test_a_failed_load_leaves_every_field_showing_the_model_in_use(
    qtbot, tab, checkpoint_file, reversed_names, tmp_path, monkeypatch
):
    """Reported: after a failed load the File box showed the bad file while the panel said
    "Still using mobilenet_v2"."""
    monkeypatch.setattr(tab, "_ask", lambda q: True)
    first = load_with_names(qtbot, tab, checkpoint_file, reversed_names)
    mp = tab.ui.model_panel
    mp.preprocessing.set_preset("classification-pytorch")
    bad = tmp_path / "damaged.pth"
    bad.write_bytes(b"\x00" * 512)
    mp.set_checkpoint_path(str(bad))
    assert mp.classes.text() == ""  # another checkpoint: nothing chosen for it
    mp.arch.set_arch("mobilenet_v2")
    with qtbot.waitSignal(mp.load_failed, timeout=30_000):
        mp.request_load()
    assert mp.loaded is first
    assert mp.checkpoint_path() == str(checkpoint_file)
    assert mp.classes.text() == str(reversed_names)
    assert mp.preprocessing.preset() is None
    assert mp.arch.current_arch() == "resnet18" and mp.weights_mode() == "checkpoint"
    assert "Still using resnet18" in mp.status.text()
    assert html.escape(first.names_line()) in mp.status.text()  # and what it is


def test_a_network_nobody_chose_is_no_hint_for_the_next_checkpoint(
    qtbot, tab, checkpoint_file, tmp_path
):
    """Seen in a screenshot: after a ResNet-18 model, dropping a MobileNetV2 checkpoint said
    "the weights are mobilenet_v2, not resnet18": the Network box still showed the model in use,
    and it was passed as a hint nobody had given. A network the person picks is still a hint."""
    import torch

    from pigeonhole.core.models.archs import build_model
    from pigeonhole.core.models.checkpoints import save_checkpoint

    torch.manual_seed(0)
    other = tmp_path / "mobile.pth"
    save_checkpoint(
        other, build_model("mobilenet_v2", 3).eval(), "mobilenet_v2", list(CLASSES), SMALL
    )
    assert load(qtbot, tab, checkpoint_file).arch == "resnet18"
    loaded = load(qtbot, tab, other)
    assert loaded.arch == "mobilenet_v2"
    assert not [n for n in loaded.notes if n.startswith("the weights are")]
    assert tab.ui.model_panel.arch.current_arch() == "mobilenet_v2"
    # the person picks a network for the next file: it is their hint, and the note says so
    tab.ui.model_panel.arch.set_arch("resnet50")
    loaded = load(qtbot, tab, checkpoint_file)
    assert loaded.arch == "resnet18" and "the weights are resnet18, not resnet50" in loaded.notes
