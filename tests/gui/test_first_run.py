"""A first run that guides: the empty window says in one place what to do first, a failed
ImageNet download is said once and in words (Classify and Train tabs), "Model ready" once."""

from __future__ import annotations

import urllib.error

import pytest
from classify_helpers import load
from PySide6.QtWidgets import QLabel

from pigeonhole.core.data.synthetic import make_class_folders
from pigeonhole.core.models import imagenet

OFFLINE = "Could not download the ImageNet weights for resnet18: no internet connection?"


@pytest.fixture
def offline(monkeypatch):
    def no_network(*args, **kwargs):
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(imagenet.urllib.request, "urlopen", no_network)


def visible_texts(window, needle: str) -> list[str]:
    """The texts of the visible labels that contain ``needle`` (what a person can read)."""
    return [
        label.text()
        for label in window.findChildren(QLabel)
        if label.isVisibleTo(window) and needle.lower() in label.text().lower()
    ]


def test_the_empty_window_says_in_one_place_what_to_do_first(qtbot, window, checkpoint_file):
    tab = window.classify_tab
    zone = tab.ui.drop_zone
    qtbot.waitUntil(lambda: tab.ui.model_panel.weights_mode() == "checkpoint")  # autoload ran
    assert zone.currentIndex() == 0 and zone.title.text() == "First, choose a model"
    assert zone.model_buttons.isVisibleTo(window) and not zone.image_buttons.isVisibleTo(window)
    assert zone.imagenet_button.text() == "Use ImageNet weights (ResNet18, 45 MB)"
    # Nothing else gives instructions: no "Drop images to start" above a page that says to
    # choose a model first, no "Ready" in the status bar.
    assert tab.ui.run_status.text() == "" and not tab.ui.banner.isVisible()
    assert visible_texts(window, "drop images") == []
    assert window.statusBar().currentMessage() == ""
    zone.train_button.click()
    assert window.tabs.currentWidget() is window.train_tab
    window.tabs.setCurrentWidget(tab)

    load(qtbot, tab, checkpoint_file)
    assert zone.title.text() == "Drop folders or images here"
    # the names in use and where they come from, as the summary says them
    assert "resnet18, 3 classes: red, green, blue (stored in the checkpoint)" in zone.sub.text()
    assert zone.image_buttons.isVisibleTo(window) and not zone.model_buttons.isVisibleTo(window)
    assert len(visible_texts(window, "Model ready")) == 1  # once, not twice in two colours


def test_an_offline_imagenet_download_is_said_once_in_words(qtbot, window, offline):
    tab = window.classify_tab
    zone = tab.ui.drop_zone
    qtbot.waitUntil(lambda: tab.ui.model_panel.weights_mode() == "checkpoint")
    with qtbot.waitSignal(tab.ui.model_panel.load_failed, timeout=30_000) as failed:
        zone.imagenet_button.click()
    message = failed.args[0]
    assert message.startswith(OFFLINE)
    assert "Choose a checkpoint file instead" in message
    assert visible_texts(window, "could not download") == [message]  # said once
    assert visible_texts(window, "Errno") == []
    assert tab.ui.model_panel.status.text() == "Not loaded."
    assert zone.model_buttons.isVisibleTo(window)  # the ways forward are still offered


def test_the_train_tab_says_an_offline_download_once_in_words(qtbot, window, offline, tmp_path):
    train = window.train_tab
    window.tabs.setCurrentWidget(train)
    data = make_class_folders(tmp_path / "data", 6, ("red", "blue"), size=(40, 30))
    with qtbot.waitSignal(train.scanned, timeout=30_000):
        train.set_data_folder(str(data))
    assert train.network.mode() == "imagenet"  # the default base, not on this computer
    with qtbot.waitSignal(train.training_done, timeout=60_000) as done:
        assert train.start()
    assert done.args[0] is None
    texts = visible_texts(window, "could not download")
    assert len(texts) == 1 and OFFLINE in texts[0] and "checkpoint" in texts[0]
    assert visible_texts(window, "Errno") == []
