"""How the Classify tab runs its model on the CPU (issue 15): the Engine choice and "Fast (int8)"
in the Model panel reach the run, and the model summary says afterwards how the model ran,
with int8's measured agreement with full precision (or a fallback's reason) in warning colour.
"""

from __future__ import annotations

import shutil

from classify_helpers import load, run_and_wait

from pigeonhole.gui.widgets.model_summary import WARNING_COLOUR


def choose(combo, data: str) -> None:
    row = combo.findData(data)
    assert row >= 0, data
    combo.setCurrentIndex(row)


def test_int8_runs_on_onnx_runtime_and_the_summary_says_its_agreement(
    qtbot, tab, checkpoint_file, image_folder, tmp_path, monkeypatch
):
    # a cache of its own: the suite's shared ONNX exports would skip the export said below
    monkeypatch.setenv("PIGEONHOLE_CACHE_DIR", str(tmp_path / "cache"))
    mp = tab.ui.model_panel
    load(qtbot, tab, checkpoint_file)
    assert "Last run" not in mp.status.text()
    choose(mp.engine, "torch")
    choose(mp.precision, "int8")  # offered: this machine runs on the CPU
    assert mp.engine.currentData() == "onnxruntime" and not mp.engine.isEnabled()
    assert mp.run_options().engine == "onnxruntime"

    # The first int8 run exports the network and calibrates (seconds on a real model): the
    # window says so while it happens, as `pigeonhole predict` does on stderr.
    seen = []
    tab.runs.staged.connect(
        lambda text: seen.append((text, tab.ui.run_status.text(), tab.runs.plots.summary.text()))
    )
    summary = run_and_wait(qtbot, tab, [image_folder], timeout=120_000)
    assert any(t.startswith("Exporting the network to ONNX") for t, _, _ in seen), seen
    assert any(t.startswith("Calibrating int8 on") for t, _, _ in seen), seen
    assert all(status == f"{t}…" and t in timing for t, status, timing in seen), seen
    assert (summary.engine, summary.precision) == ("onnxruntime", "int8")
    assert summary.engine_note.startswith("int8: ")
    text = mp.status.text()
    assert "Last run: ONNX Runtime, int8 · int8: " in text and "fp32" in text
    assert WARNING_COLOUR in text

    # Full precision again: the engine chosen before int8 comes back, and the run uses it.
    choose(mp.precision, "fp32")
    assert mp.engine.currentData() == "torch" and mp.engine.isEnabled()
    summary = run_and_wait(qtbot, tab, [image_folder])
    assert (summary.engine, summary.precision, summary.engine_note) == ("torch", "fp32", "")
    text = mp.status.text()
    assert "Last run: PyTorch, fp32" in text and "int8" not in text
    assert WARNING_COLOUR not in text

    # Another model: nothing is said about how it runs before it has run.
    other = tmp_path / "other.pth"
    shutil.copy(checkpoint_file, other)
    load(qtbot, tab, other)
    assert mp.loaded.source == str(other) and "Last run" not in mp.status.text()
