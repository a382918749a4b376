"""Classify tab model panel and scripted start: loading off-thread, failures keep the previous
model, trusting pickles, ImageNet weights, searchable picker, settings, `pigeonhole gui ...`."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from classify_helpers import CLASSES, load, make_images
from PySide6.QtCore import QSettings
from PySide6.QtGui import QImage

from pigeonhole.core.models.archs import build_model, get_arch
from pigeonhole.core.runtime.options import RunOptions

ROOT = Path(__file__).resolve().parents[2]


def test_failed_load_keeps_the_previous_model(qtbot, tab, checkpoint_file, tmp_path):
    first = load(qtbot, tab, checkpoint_file)
    bad = tmp_path / "damaged.pth"
    bad.write_bytes(os.urandom(2048))
    with qtbot.waitSignal(tab.ui.model_panel.load_failed, timeout=30_000) as blocker:
        tab.load_checkpoint_file(str(bad))
    assert "damaged.pth" in blocker.args[0]
    assert tab.ui.model_panel.loaded is first  # still the old model
    assert tab.ui.banner.isVisible() and tab.ui.banner.property("error")
    assert "Still using resnet18" in tab.ui.model_panel.status.text()
    assert tab.ui.model_panel.load_button.isEnabled()


def test_untrusted_checkpoint_asks_before_loading(qtbot, tab, tmp_path, monkeypatch):
    path = tmp_path / "whole_model.pth"
    torch.save(build_model("squeezenet1_1", 3), path)  # a pickled module: needs code to load
    questions = []
    monkeypatch.setattr(tab, "_ask", lambda q: questions.append(q) or False)
    with qtbot.waitSignal(tab.ui.model_panel.load_failed, timeout=30_000):
        tab.load_checkpoint_file(str(path))
    assert questions and "Only for files you trust" in questions[0]
    assert tab.ui.model_panel.loaded is None

    monkeypatch.setattr(tab, "_ask", lambda q: questions.append(q) or True)
    with qtbot.waitSignal(tab.ui.model_panel.model_loaded, timeout=30_000) as blocker:
        tab.load_checkpoint_file(str(path))
    assert len(questions) == 2
    loaded = blocker.args[0]
    assert loaded.arch == "squeezenet1_1" and loaded.num_classes == 3
    assert any("trust" in n for n in loaded.notes)


def test_imagenet_weights_from_the_cache(qtbot, tab):
    spec = get_arch("squeezenet1_1")
    target = Path(os.environ["TORCH_HOME"]) / "hub" / "checkpoints" / Path(spec.weights_url).name
    target.parent.mkdir(parents=True, exist_ok=True)
    torch.save(build_model("squeezenet1_1", 1000).state_dict(), target)
    mp = tab.ui.model_panel
    assert mp.arch.set_arch("squeezenet1_1")
    assert mp.weights.itemText(0) == "ImageNet (downloaded)"
    mp.set_weights_mode("imagenet")
    with qtbot.waitSignal(mp.model_loaded, timeout=30_000) as blocker:
        mp.load_button.click()
    assert blocker.args[0].num_classes == 1000
    assert "ImageNet" in mp.status.text()
    mp.arch.set_arch("resnet50")  # not cached: the size of the download is shown
    assert "98 MB once" in mp.weights.itemText(0)


def test_arch_picker_is_grouped_and_searchable(tab):
    picker = tab.ui.model_panel.arch
    model = picker.model()
    assert model.item(0).text().startswith("Popular")
    assert not model.item(0).isEnabled()  # a group header
    assert "ResNet18 · 11.7M params · 1.8 GFLOPs" in model.item(1).text()
    headers = [
        model.item(r).text() for r in range(model.rowCount()) if not model.item(r).isEnabled()
    ]
    assert {"ViT", "EfficientNet", "ConvNeXt"} <= set(headers)
    picker.lineEdit().setText("mobilenet_v3_s")
    picker.lineEdit().editingFinished.emit()
    assert picker.current_arch() == "mobilenet_v3_small"
    assert "MobileNet" in tab.ui.model_panel.arch_info.text()
    assert picker.set_arch("VGG16") and picker.current_arch() == "vgg16"


def test_model_choice_and_run_settings_persist(qtbot, qsettings_isolated, checkpoint_file):
    from pigeonhole.gui.main_window import MainWindow

    w = MainWindow()
    qtbot.addWidget(w)
    tab = w.classify_tab
    # First start, no ImageNet weights cached: the person is asked to choose.
    qtbot.waitUntil(lambda: tab.ui.model_panel.weights_mode() == "checkpoint")
    assert "No model loaded" in tab.ui.model_panel.status.text()
    assert "choose a model" in tab.ui.drop_zone.title.text().lower()
    load(qtbot, tab, checkpoint_file)
    tab.ui.model_panel.batch.setValue(8)
    tab.ui.model_panel.precision.setCurrentIndex(tab.ui.model_panel.precision.findData("bf16"))
    tab.ui.model_panel.decode.setCurrentIndex(tab.ui.model_panel.decode.findData("cpu"))
    tab.ui.model_panel.engine.setCurrentIndex(tab.ui.model_panel.engine.findData("torch"))
    w.close()
    assert QSettings().value("model/checkpoint", type=str) == str(checkpoint_file)

    w2 = MainWindow()  # loads the last model by itself
    qtbot.addWidget(w2)
    tab2 = w2.classify_tab
    qtbot.waitUntil(lambda: tab2.ui.model_panel.loaded is not None, timeout=30_000)
    assert tab2.ui.model_panel.loaded.class_names == list(CLASSES)
    assert tab2.ui.model_panel.run_options() == RunOptions(
        device="auto",
        precision="bf16",
        decode="cpu",
        batch_size=8,
        engine="torch",  # a CPU-only machine: the engine is the person's choice
    )
    assert tab2.ui.model_panel.checkpoint.itemData(0) == str(checkpoint_file)  # recent files
    w2.close()


def _gui_args(**kw) -> argparse.Namespace:
    base = dict(
        paths=[], arch=None, checkpoint=None, classes=None, screenshot=None, quit_when_done=False
    )
    base.update(kw)
    return argparse.Namespace(**base)


def test_command_line_classifies_then_screenshots_and_quits(
    qtbot, window, checkpoint_file, image_folder, tmp_path, monkeypatch
):
    from PySide6.QtWidgets import QApplication

    codes = []
    monkeypatch.setattr(QApplication, "exit", staticmethod(lambda code=0: codes.append(code)))
    shot = tmp_path / "shot.png"
    window.apply_command_line(
        _gui_args(
            paths=[str(image_folder)],
            checkpoint=str(checkpoint_file),
            screenshot=str(shot),
            quit_when_done=True,
        )
    )
    qtbot.waitUntil(lambda: bool(codes), timeout=60_000)
    assert codes == [0]
    assert window.classify_tab.results.rowCount() == 13
    img = QImage(str(shot))
    assert not img.isNull() and img.width() == window.width()


def test_command_line_with_a_bad_checkpoint_exits_non_zero(qtbot, window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QApplication

    codes = []
    monkeypatch.setattr(QApplication, "exit", staticmethod(lambda code=0: codes.append(code)))
    window.apply_command_line(
        _gui_args(
            paths=[str(tmp_path)], checkpoint=str(tmp_path / "missing.pth"), quit_when_done=True
        )
    )
    qtbot.waitUntil(lambda: bool(codes), timeout=30_000)
    assert codes == [1]
    assert window.classify_tab.ui.banner.property("error")


@pytest.mark.slow
def test_pigeonhole_gui_end_to_end_exits_cleanly(checkpoint_file, tmp_path):
    """The real entry point in a fresh process: classify, save the screenshot, exit 0, and no
    "QThread: Destroyed while thread is still running"."""
    folder = tmp_path / "imgs"
    make_images(folder, 20)
    shot = tmp_path / "window.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp_path / "config"))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pigeonhole",
            "gui",
            str(folder),
            "--checkpoint",
            str(checkpoint_file),
            "--screenshot",
            str(shot),
            "--quit-when-done",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "QThread" not in proc.stderr
    assert not QImage(str(shot)).isNull()


@pytest.mark.slow
def test_scripted_gui_never_waits_on_a_trust_question(tmp_path):
    """Reported: `pigeonhole gui FOLDER --checkpoint untrusted.pkl --quit-when-done` waited
    forever on the trust question nobody would answer. It must fail like the CLI (the message
    naming --trust-checkpoint, a non-zero exit), and load when --trust-checkpoint is given."""
    folder = tmp_path / "imgs"
    make_images(folder, 4)
    whole = tmp_path / "untrusted.pkl"
    torch.manual_seed(0)
    torch.save(build_model("resnet18", len(CLASSES)), whole)  # a whole pickled model
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp_path / "config"))
    cmd = [sys.executable, "-m", "pigeonhole", "gui", str(folder), "--checkpoint", str(whole),
           "--quit-when-done"]  # fmt: skip
    refused = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0
    assert "pigeonhole: error:" in refused.stderr and "--trust-checkpoint" in refused.stderr
    trusted = subprocess.run(
        [*cmd, "--trust-checkpoint"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert trusted.returncode == 0, trusted.stderr
