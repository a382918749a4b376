"""Fixtures for the Classify tab tests: a small generated checkpoint, image folders, a main
window with isolated settings, and helpers to drop paths and wait for runs."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest
import torch
from classify_helpers import CLASSES, FAST_ARCH, SMALL, load, make_images, run_and_wait

from pigeonhole.core.data.synthetic import class_image
from pigeonhole.core.models.archs import build_model
from pigeonhole.core.models.checkpoints import save_checkpoint


@pytest.fixture(autouse=True)
def _garbage_collected_in_the_gui_thread(qapp):
    """As in the app (gui.app.collect_garbage_in_gui_thread): no automatic collection, which
    could free a previous test's widgets from a worker thread and deadlock Qt; collect here,
    in the GUI thread, after each test instead."""
    from pigeonhole.gui.app import collect_garbage_in_gui_thread

    collect_garbage_in_gui_thread()
    gc.collect()
    yield
    gc.collect()


def fitted_colour_model():
    """ResNet-18 (random backbone, small input) whose head is fitted by least squares to the
    synthetic colour classes: real, varied predictions and confidences in a few seconds."""
    from pigeonhole.core.data.preprocessing import crop_uint8, normalize_batch

    torch.manual_seed(0)
    model = build_model(FAST_ARCH, len(CLASSES))
    fc, model.fc = model.fc, torch.nn.Identity()
    imgs, targets = [], []
    for k, label in enumerate(CLASSES):
        for i in range(16):
            imgs.append(crop_uint8(class_image(label, 10_000 + i, (48, 36)), SMALL))
            targets.append(k)
    with torch.inference_mode():
        feats = model(normalize_batch(torch.stack(imgs), SMALL))
    x = torch.cat([feats, torch.ones(len(feats), 1)], dim=1)
    y = torch.nn.functional.one_hot(torch.tensor(targets), len(CLASSES)).float() * 6 - 3
    w = torch.linalg.solve(x.T @ x + 1e-1 * torch.eye(x.shape[1]), x.T @ y)
    with torch.no_grad():
        fc.weight.copy_(w[:-1].T)
        fc.bias.copy_(w[-1])
    model.fc = fc
    return model.eval()


@pytest.fixture(scope="session")
def checkpoint_file(tmp_path_factory) -> Path:
    """A ResNet-18 checkpoint for the classes red, green, blue at a 32-pixel input."""
    path = tmp_path_factory.mktemp("ckpt") / "colours.pth"
    save_checkpoint(path, fitted_colour_model(), FAST_ARCH, list(CLASSES), SMALL)
    return path


@pytest.fixture(scope="session")
def other_checkpoint(tmp_path_factory) -> Path:
    """Another model of the same classes (the head's weights halved): other weights, so another
    model's identity, mostly the same labels."""
    model = fitted_colour_model()
    with torch.no_grad():
        model.fc.weight.mul_(0.5)
    path = tmp_path_factory.mktemp("ckpt") / "other.pth"
    save_checkpoint(path, model, FAST_ARCH, list(CLASSES), SMALL)
    return path


@pytest.fixture(scope="session")
def flat_checkpoint(tmp_path_factory) -> Path:
    """A model that cannot tell its classes apart: a zero head, the same probability for every
    class on every image (the raw MobileNetV2 of issue 12)."""
    model = fitted_colour_model()
    with torch.no_grad():
        model.fc.weight.zero_()
        model.fc.bias.zero_()
    path = tmp_path_factory.mktemp("ckpt") / "flat.pth"
    save_checkpoint(path, model, FAST_ARCH, list(CLASSES), SMALL)
    return path


@pytest.fixture
def image_folder(tmp_path) -> Path:
    """12 images, one broken file named .jpg and one text file (ignored)."""
    folder = tmp_path / "photos"
    make_images(folder, 12)
    (folder / "broken.jpg").write_bytes(b"this is not a jpeg")
    (folder / "notes.txt").write_text("not an image")
    return folder


@pytest.fixture
def window(qtbot, qsettings_isolated):
    from pigeonhole.gui.main_window import MainWindow

    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    yield w
    w.classify_tab.shutdown()


@pytest.fixture
def tab(window):
    return window.classify_tab


@pytest.fixture
def train_tab(qtbot, qsettings_isolated):
    """A Train tab on its own, with isolated settings, shut down after the test."""
    from pigeonhole.gui.train.tab import TrainTab

    w = TrainTab()
    qtbot.addWidget(w)
    w.resize(1200, 780)
    w.show()
    yield w
    w.shutdown()


@pytest.fixture
def finished(qtbot, window, checkpoint_file, image_folder):
    """The window, active, with a finished run over ``image_folder`` (12 images + 1 broken)."""
    tab = window.classify_tab
    load(qtbot, tab, checkpoint_file)
    run_and_wait(qtbot, tab, [image_folder])
    window.activateWindow()
    qtbot.waitActive(window)
    tab.ui.grid.setFocus()
    return tab
