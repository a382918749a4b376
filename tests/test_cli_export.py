"""`pigeonhole export`: ONNX and TorchScript files that carry their class names and
preprocessing, agree with the PyTorch model, and never replace a file by accident."""

from __future__ import annotations

import json
import os
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from pigeonhole.cli import main
from pigeonhole.core.data.images import load_image
from pigeonhole.core.data.preprocessing import crop_uint8, normalize_batch
from pigeonhole.core.data.synthetic import make_class_folders
from pigeonhole.core.models.checkpoints import save_checkpoint


@pytest.fixture(scope="module")
def trained(tmp_path_factory, decisive):
    """A decisive model saved as a Pigeonhole checkpoint, and labelled photos to run it on."""
    base = tmp_path_factory.mktemp("export")
    path = base / "colours.pth"
    save_checkpoint(path, decisive.model, "resnet18", decisive.class_names, decisive.transform)
    photos = sorted(make_class_folders(base / "photos", 3, ("red", "green", "blue"), (320, 240)).rglob("*.jpg"))  # fmt: skip
    return path, decisive, photos


def test_onnx_export_runs_in_onnx_runtime_like_pytorch(tmp_path, trained, capsys):
    path, decisive, photos = trained
    out = tmp_path / "colours.onnx"
    assert main(["export", str(path), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "checked with ONNX Runtime" in err and "top-1 identical 100%" in err
    proto = onnx.load(str(out))
    meta = {p.key: p.value for p in proto.metadata_props}
    assert json.loads(meta["class_names"]) == decisive.class_names
    assert json.loads(meta["preprocessing"])["crop"] == decisive.transform.crop
    assert meta["arch"] == "resnet18"
    # the user's own photos, preprocessed as the metadata says: same labels as PyTorch
    x = normalize_batch(
        torch.stack([crop_uint8(load_image(p), decisive.transform) for p in photos]),
        decisive.transform,
    )
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    (logits,) = session.run(None, {"input": x.numpy()})  # a batch of 9: the batch size is free
    with torch.inference_mode():
        want = decisive.model(x).numpy()
    assert (logits.argmax(1) == want.argmax(1)).all()
    assert np.abs(logits - want).max() < 1e-3


def test_torchscript_export_carries_names_and_preprocessing(tmp_path, trained, capsys):
    path, decisive, _ = trained
    out = tmp_path / "colours.pt"
    assert main(["export", str(path), "--format", "torchscript", "--out", str(out)]) == 0
    assert "checked with libtorch" in capsys.readouterr().err
    extra = {"class_names.json": "", "preprocessing.json": "", "model.json": ""}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # TorchScript is deprecated upstream
        module = torch.jit.load(str(out), _extra_files=extra)
    assert json.loads(extra["class_names.json"]) == decisive.class_names
    assert json.loads(extra["model.json"])["arch"] == "resnet18"
    x = torch.zeros(2, 3, decisive.transform.crop, decisive.transform.crop)
    with torch.inference_mode():
        assert torch.allclose(module(x), decisive.model(x), atol=1e-4)


def test_a_bad_out_is_refused_before_any_work_and_nothing_is_replaced(tmp_path, trained, capsys):
    path = trained[0]
    folder = tmp_path / "a-folder.onnx"
    folder.mkdir()
    assert main(["export", str(path), "--out", str(folder)]) == 2
    assert "--out" in capsys.readouterr().err
    assert main(["export", str(path), "--out", str(tmp_path / "model.txt")]) == 2
    assert "--format onnx or torchscript" in capsys.readouterr().err
    # no --out: beside you, under the checkpoint's name, never over an existing file
    (tmp_path / "colours.onnx").write_text("someone else's file")
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        capsys.readouterr()
        assert main(["export", str(path)]) == 0
    finally:
        os.chdir(cwd)
    assert (tmp_path / "colours.onnx").read_text() == "someone else's file"
    assert (tmp_path / "colours-2.onnx").stat().st_size > 1000
    err = capsys.readouterr().err  # reported: it wrote colours-2.onnx without saying why
    assert "colours.onnx exists, so the export is" in err and "colours-2.onnx" in err
    # an --out that exists is refused before any work, unless --force
    taken = tmp_path / "taken.onnx"
    taken.write_text("keep me")
    assert main(["export", str(path), "--out", str(taken)]) == 2
    assert "exists: add --force" in capsys.readouterr().err and taken.read_text() == "keep me"
    assert main(["export", str(path), "--out", str(taken), "--force"]) == 0
    assert taken.stat().st_size > 1000


def test_the_checkpoint_is_named_one_way(trained, capsys):
    """Reported: export took both a positional CHECKPOINT and --checkpoint."""
    assert main(["export", "--checkpoint", str(trained[0])]) == 2
    assert "unrecognized arguments: --checkpoint" in capsys.readouterr().err
    assert "(default: beside you)" not in main_help("export")


def main_help(command: str) -> str:
    from pigeonhole.parser import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return sub.choices[command].format_help()
