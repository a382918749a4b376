"""The Train tab builds its base model and run the way `pigeonhole train` does: the person's
preprocessing choice and trust reach the loaded model, the Model panel's run options reach
the feature extraction, and the app saves every format the command line saves."""

from __future__ import annotations

import pytest

from pigeonhole.core.models.checkpoints import ModelSource, load_model
from pigeonhole.core.models.transforms import PreprocessingOverride, get_preset
from pigeonhole.core.runtime.options import RunOptions
from tests.core.conftest import write_checkpoint
from tests.core.train_helpers import colour_folders, save_base_checkpoint
from tests.gui.test_train_tab import scan


@pytest.fixture
def ready(qtbot, train_tab, tmp_path):
    data = colour_folders(tmp_path / "colours", per_class=6, classes=("red", "blue"))
    assert scan(qtbot, train_tab, data) is not None
    train_tab.options.patience.setValue(0)
    train_tab.options.epochs_spin.setValue(2)
    return train_tab


def _train(qtbot, tab):
    with qtbot.waitSignal(tab.training_done, timeout=120_000) as done:
        assert tab.start()
    return done.args[0]


def test_preprocessing_and_run_options_reach_the_training(qtbot, ready, tmp_path):
    tab = ready
    tab.network.set_checkpoint(str(save_base_checkpoint(tmp_path / "base.pth")))
    tab.network.preprocessing.set_preset("classification-pytorch")
    tab.run_options = lambda: RunOptions(device="cpu", engine="torch", precision="int8")
    result = _train(qtbot, tab)
    assert result is not None
    base = load_model(
        ModelSource(
            checkpoint=str(tmp_path / "base.pth"),
            preprocessing=PreprocessingOverride(preset="classification-pytorch"),
        )
    )
    assert result.transform == base.transform  # the preset, as `train --preprocess` gives
    assert (
        result.transform != load_model(ModelSource(checkpoint=str(tmp_path / "base.pth"))).transform
    )
    assert (
        get_preset("classification-pytorch").name in tab.network.preprocessing.combo.currentText()
    )
    # The Model panel's engine; int8 is for classifying, so features stay floating point.
    assert result.config.run == RunOptions(device="cpu", engine="torch", precision="auto")


@pytest.mark.parametrize("trusted", [True, False])
def test_a_checkpoint_that_needs_trust_is_asked_about(qtbot, ready, tmp_path, trusted):
    tab = ready
    path = write_checkpoint("whole_model", tmp_path / "whole.pth")
    tab.network.set_checkpoint(str(path))
    asked: list[str] = []
    tab.ask = lambda question: asked.append(question) or trusted
    result = _train(qtbot, tab)  # trusted: the first try asks, then trains on it
    if not trusted:
        assert result is None and "did not trust" in tab.status.text()
        return
    assert len(asked) == 1 and "trust" in asked[0]
    assert result is not None and result.class_names == ["blue", "red"]


def test_the_app_saves_safetensors_as_the_cli_does(qtbot, ready, tmp_path):
    tab = ready
    tab.network.set_checkpoint(str(save_base_checkpoint(tmp_path / "base.pth")))
    assert _train(qtbot, tab) is not None
    with qtbot.waitSignal(tab.saved, timeout=30_000) as saved:
        tab.save_result(tmp_path / "out" / "colours.safetensors")
    out = saved.args[0]
    assert out == tmp_path / "out" / "colours.safetensors" and out.is_file()
    assert load_model(ModelSource(checkpoint=str(out))).class_names == ["blue", "red"]
