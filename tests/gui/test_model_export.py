"""Export a model for other tools from the window (issue 12, item 6): the Classify menu's
"Export model…" and the Train tab's "Export…" write ONNX or TorchScript through the same core
code as `pigeonhole export`, off the GUI thread; a name that cannot be written is refused
before any work."""

from __future__ import annotations

import json
import threading
import warnings

import onnx
import onnxruntime as ort
import pytest
import torch
from classify_helpers import CLASSES, load

import pigeonhole.core.runtime.network_export as model_export
from pigeonhole.gui.widgets.model_export import FILTERS
from tests.core.train_helpers import colour_folders, save_base_checkpoint


@pytest.fixture
def export_threads(monkeypatch) -> list[threading.Thread]:
    """The threads core's export_model runs in."""
    real, threads = model_export.export_model, []

    def recording(*args, **kwargs):
        threads.append(threading.current_thread())
        return real(*args, **kwargs)

    monkeypatch.setattr(model_export, "export_model", recording)
    return threads


def test_the_classify_menu_exports_the_model_in_use_as_onnx(
    qtbot, tab, checkpoint_file, tmp_path, export_threads
):
    actions = tab.model_actions
    assert not actions.act_export_model.isEnabled()  # no model yet
    loaded = load(qtbot, tab, checkpoint_file)
    assert actions.act_export_model.isEnabled()
    assert actions.act_export_model in tab.install_menus(tab.window().menuBar()).actions()
    offered = []
    out = tmp_path / "exports" / "colours"  # no suffix: the filter chosen says which
    actions.exporter.ask_path = lambda start: offered.append(start) or (str(out), FILTERS["onnx"])
    with qtbot.waitSignal(actions.exporter.done, timeout=60_000) as done:
        actions.act_export_model.trigger()
        assert "Exporting resnet18 as colours.onnx" in tab.ui.banner.text()
        assert not actions.act_export_model.isEnabled()  # one export at a time
    assert offered == [str(checkpoint_file.with_suffix(".onnx"))]  # beside the checkpoint
    report = done.args[0]
    written = out.with_suffix(".onnx")
    assert report.path == written and written.is_file() and report.top1_identical == 1.0
    assert export_threads and export_threads[0] is not threading.main_thread()
    assert "Exported: wrote" in tab.ui.banner.text() and actions.act_export_model.isEnabled()
    meta = {p.key: p.value for p in onnx.load(str(written)).metadata_props}
    assert json.loads(meta["class_names"]) == list(CLASSES) and meta["arch"] == "resnet18"
    crop = loaded.transform.crop
    x = torch.randn(3, 3, crop, crop)
    session = ort.InferenceSession(str(written), providers=["CPUExecutionProvider"])
    (logits,) = session.run(None, {"input": x.numpy()})
    with torch.inference_mode():
        assert torch.allclose(torch.from_numpy(logits), loaded.model(x), atol=1e-3)


def test_a_name_that_cannot_be_written_is_refused_before_any_work(
    qtbot, tab, checkpoint_file, tmp_path, export_threads
):
    load(qtbot, tab, checkpoint_file)
    a_file = tmp_path / "notes.txt"
    a_file.write_text("keep me")
    for bad, says in (
        (a_file / "colours.onnx", "is a file, not a folder"),
        (tmp_path / "colours.txt", "must end in .onnx"),
    ):
        assert not tab.model_actions.export_model(str(bad))
        assert says in tab.ui.banner.text() and tab.ui.banner.property("error")
        assert not tab.model_actions.exporter.busy
    assert export_threads == [] and a_file.read_text() == "keep me"
    assert not (tmp_path / "colours.txt").exists()


def test_the_train_tab_exports_the_trained_model_as_torchscript(
    qtbot, train_tab, tmp_path, export_threads
):
    tab = train_tab
    data = colour_folders(tmp_path / "colours", per_class=6, classes=("red", "blue"))
    with qtbot.waitSignal(tab.scanned, timeout=30_000):
        tab.set_data_folder(str(data))
    tab.network.set_checkpoint(str(save_base_checkpoint(tmp_path / "base.pth")))
    tab.options.epochs_spin.setValue(2)
    assert not tab.results.export_button.isEnabled()
    with qtbot.waitSignal(tab.training_done, timeout=120_000) as trained:
        tab.start()
    result = trained.args[0]
    assert tab.results.export_button.isEnabled()
    out = tmp_path / "out" / "colours.pt"
    with qtbot.waitSignal(tab.output.exporter.done, timeout=60_000):
        assert tab.export_result(str(out))
        assert not tab.results.export_button.isEnabled() and not tab.start_button.isEnabled()
    assert export_threads and export_threads[0] is not threading.main_thread()
    assert "Exported: wrote" in tab.status.text() and tab.results.export_button.isEnabled()
    extra = {"class_names.json": "", "preprocessing.json": "", "model.json": ""}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # TorchScript is deprecated upstream
        module = torch.jit.load(str(out), _extra_files=extra)
    assert json.loads(extra["class_names.json"]) == ["blue", "red"]
    assert json.loads(extra["preprocessing.json"])["crop"] == result.transform.crop
    x = torch.randn(2, 3, result.transform.crop, result.transform.crop)
    with torch.inference_mode():
        assert torch.allclose(module(x), result.model(x), atol=1e-4)
    assert result.saved_to is None  # exporting is not saving
