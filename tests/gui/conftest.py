"""Fixtures for the Classify tab tests: a small generated checkpoint, image folders, a main
window with isolated settings, and helpers to drop paths and wait for runs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from classify_helpers import CLASSES, FAST_ARCH, SMALL, make_images

from core.archs import build_model
from core.checkpoints import save_checkpoint


@pytest.fixture(scope="session")
def checkpoint_file(tmp_path_factory) -> Path:
    """A random-weight MobileNetV3-Small checkpoint with three classes."""
    torch.manual_seed(0)
    model = build_model(FAST_ARCH, len(CLASSES))
    path = tmp_path_factory.mktemp("ckpt") / "colours.pth"
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
    from gui.main_window import MainWindow

    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    yield w
    w.classify_tab.shutdown()


@pytest.fixture
def tab(window):
    return window.classify_tab
