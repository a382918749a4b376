"""`pigeonhole predict` and `pigeonhole models` where importing torch raises (issue 22): an
ONNX model (Pigeonhole's export, another tool's with a classes.txt), a checkpoint's cached
export, and the one-line refusals (a file that is not a classifier, --engine torch)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch
from torch import nn

from pigeonhole.cli import main
from pigeonhole.core.data.synthetic import make_class_folders
from pigeonhole.core.models.checkpoints import save_checkpoint
from pigeonhole.core.runtime.network_export import export_model
from tests.core.torch_blocked import run_blocked
from tests.core.train_helpers import DECISIVE_CLASSES

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch's old exporter
PREDICT = ["-m", "pigeonhole", "predict"]


@pytest.fixture(scope="module")
def files(tmp_path_factory, decisive):
    base = tmp_path_factory.mktemp("cli-onnx")
    folder = make_class_folders(base / "photos", 3, DECISIVE_CLASSES, size=(320, 240), seed=3)
    ckpt = base / "colours.pth"
    save_checkpoint(ckpt, decisive.model, "resnet18", decisive.class_names, decisive.transform)
    own = base / "colours.onnx"
    export_model(decisive, "onnx", own)
    theirs = base / "theirs" / "model.onnx"
    theirs.parent.mkdir()
    with torch.no_grad():  # another tool's export: a fixed batch of 1, its own names
        torch.onnx.export(decisive.model.eval(), (torch.zeros(1, 3, 64, 64),), theirs,
                          dynamo=False, input_names=["data"], output_names=["logits"])  # fmt: skip
    (theirs.parent / "classes.txt").write_text("\n".join(decisive.class_names) + "\n")
    return folder, ckpt, own, theirs


def _rows(path: Path) -> dict[str, tuple[str, float]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return {
            r["path"]: (r["label"], float(r["predicted_confidence"])) for r in csv.DictReader(fh)
        }


@pytest.fixture(scope="module")
def torch_results(files, tmp_path_factory):
    folder, ckpt, _, _ = files
    out = tmp_path_factory.mktemp("torch-run") / "torch.csv"
    argv = [
        "predict",
        str(folder),
        "--checkpoint",
        str(ckpt),
        "--engine",
        "torch",
        "--out",
        str(out),
    ]
    assert main(argv + ["--quiet"]) == 0
    return _rows(out)


def _predict_without_torch(tmp_path, *args) -> tuple[dict, str]:
    out = tmp_path / "r.csv"
    done = run_blocked([*PREDICT, *map(str, args), "--out", str(out), "--quiet"], tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    return _rows(out), done.stderr


def _same(got: dict, want: dict) -> None:
    assert got.keys() == want.keys() and len(got) == 9
    for path, (label, confidence) in got.items():
        assert label == want[path][0], path
        assert confidence == pytest.approx(want[path][1], abs=1e-4), path


def test_predict_on_pigeonholes_onnx_export_without_torch(files, torch_results, tmp_path):
    folder, _, own, _ = files
    rows, err = _predict_without_torch(tmp_path, folder, "--checkpoint", own)
    _same(rows, torch_results)
    assert "onnxruntime, fp32" in err and "saved in the ONNX file" in err.splitlines()[0]


def test_predict_on_another_tools_onnx_model_with_classes_txt_without_torch(
    files, torch_results, tmp_path
):
    """Names from classes.txt beside it; the preprocessing assumed (ImageNet's recipe for its
    64-pixel input: resize 73), said so on the first line; told --resize 72, torch's pixels."""
    folder, _, _, theirs = files
    rows, err = _predict_without_torch(tmp_path, folder, "--checkpoint", theirs, "--resize", "72")
    _same(rows, torch_results)
    assert "classes.txt beside the model" in err
    _, err = _predict_without_torch(tmp_path, folder, "--checkpoint", theirs)
    first = err.splitlines()[0]
    assert first.startswith("pigeonhole: preprocessing: ImageNet: 73 → crop 64")
    assert "assumed" in first and "--preprocess to change" in first


def test_a_checkpoints_cached_export_runs_without_torch_from_the_second_run(
    files, torch_results, tmp_path
):
    folder, ckpt, _, _ = files
    first = tmp_path / "first.csv"
    argv = ["predict", str(folder), "--checkpoint", str(ckpt), "--out", str(first), "--quiet"]
    assert main(argv) == 0  # engine auto: ONNX Runtime for ResNet, exported (or found) once
    rows, err = _predict_without_torch(tmp_path, folder, "--checkpoint", ckpt)
    _same(rows, torch_results)
    _same(rows, _rows(first))
    assert "saved with the weights" in err.splitlines()[0]  # the same first line as torch's


def test_models_lists_the_registry_without_torch(tmp_path):
    done = run_blocked(["-m", "pigeonhole", "models", "--family", "resnet"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "resnet50" in done.stdout and "80.9%" in done.stdout


class _TwoInputs(nn.Module):
    def forward(self, a, b):
        return a.mean((2, 3)) + b.mean((2, 3))


def test_an_onnx_file_that_is_not_a_classifier_is_refused_in_one_line(files, tmp_path):
    folder = files[0]
    bad = tmp_path / "pair.onnx"
    x = torch.zeros(1, 3, 8, 8)
    torch.onnx.export(_TwoInputs(), (x, x), bad, dynamo=False)
    done = run_blocked([*PREDICT, str(folder), "--checkpoint", str(bad)], tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pigeonhole: error: pair.onnx takes 2 inputs")


def test_engine_torch_on_an_onnx_model_says_it_needs_a_torch_checkpoint(files, tmp_path):
    folder, _, own, _ = files
    done = run_blocked([*PREDICT, str(folder), "--checkpoint", str(own), "--engine", "torch"],
                       tmp_path)  # fmt: skip
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        .splitlines()[-1]
        .startswith("pigeonhole: error: --engine torch needs a torch checkpoint")
    )


def test_export_and_train_on_an_onnx_model_say_they_need_a_torch_checkpoint(
    files, tmp_path, capsys
):
    folder, _, own, _ = files
    assert main(["export", str(own), "--out", str(tmp_path / "again.onnx")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("pigeonhole: error: Exporting needs a torch checkpoint")
    assert not (tmp_path / "again.onnx").exists()
    assert main(["train", str(folder), "--checkpoint", str(own), "--epochs", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("pigeonhole: error: Training needs a torch checkpoint")
