"""`pigeonhole train`: epoch lines, per-class table, checkpoint that `pigeonhole predict` reads
with no other flags; clear errors; the ImageNet-weights default."""

from __future__ import annotations

import json
import os

import pytest
import torch

from pigeonhole.cli import main
from pigeonhole.core.data.synthetic import make_class_folders
from pigeonhole.core.models.archs import get_arch
from tests.core.train_helpers import colour_folders, save_base_checkpoint


def test_train_then_predict_with_the_checkpoint(tmp_path, capsys):
    data = colour_folders(tmp_path / "colours", per_class=8, classes=("red", "blue"))
    base = save_base_checkpoint(tmp_path / "base.pth")
    out = tmp_path / "out" / "colours.pth"
    code = main(
        [
            "train",
            str(data),
            "--checkpoint",
            str(base),
            "--epochs",
            "6",
            "--patience",
            "0",
            "--out",
            str(out),
        ]
    )
    text = capsys.readouterr().out
    assert code == 0, text
    assert text.index("blue") < text.index("epoch   1")  # the class table comes first
    assert any(line.split() == ["blue", "6", "2"] for line in text.splitlines())
    epoch_lines = [line for line in text.splitlines() if line.startswith("epoch")]
    assert len(epoch_lines) == 6
    assert all(
        "train loss" in line and "val loss" in line and " ms" in line for line in epoch_lines
    )
    assert "precision  recall" in text
    # why this epoch, said as the app says it (issue 27): the lowest validation loss
    assert any(
        line.startswith("kept epoch ")
        and ": lowest validation loss " in line
        and "(accuracy " in line
        for line in text.splitlines()
    ), text
    assert f"checkpoint saved to {out}" in text
    assert out.is_file()

    images = [str(p) for p in sorted((data / "red").glob("*.jpg"))[:3]]
    results = tmp_path / "pred.json"
    assert (
        main(["predict", "--checkpoint", str(out), *images, "--out", str(results), "--quiet"]) == 0
    )
    capsys.readouterr()
    rows = json.loads(results.read_text())
    rows = rows["predictions"] if isinstance(rows, dict) else rows
    assert [r["label"] for r in rows] == ["red", "red", "red"]


def test_default_out_is_named_after_the_data_and_never_overwrites(tmp_path, capsys, monkeypatch):
    data = make_class_folders(tmp_path / "shapes", 3, ("red", "blue"), size=(64, 48))
    base = save_base_checkpoint(tmp_path / "base.pth")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "shapes-resnet18.pth").write_bytes(b"keep me")
    args = ["train", str(data), "--checkpoint", str(base), "--epochs", "2", "--arch", "resnet18"]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert (tmp_path / "shapes-resnet18.pth").read_bytes() == b"keep me"
    assert (tmp_path / "shapes-resnet18-2.pth").is_file()
    assert "shapes-resnet18-2.pth" in text
    assert "Fewer than 5 training images" in text


def test_clear_errors(tmp_path, capsys):
    one = make_class_folders(tmp_path / "one", 3, ("red",), size=(32, 24))
    assert main(["train", str(one), "--arch", "resnet18"]) == 2
    assert "at least 2 classes" in capsys.readouterr().err
    two = make_class_folders(tmp_path / "two", 3, ("red", "blue"), size=(32, 24))
    # Reported: without --arch/--checkpoint train refused while the app trains ResNet-18.
    assert main(["train", str(two)]) == 2  # offline here: its ImageNet weights are not cached
    err = capsys.readouterr().err
    assert "training on resnet18's ImageNet weights (the default" in err
    assert "--arch" not in err.splitlines()[-1]  # the error is the weights', not a refusal
    assert main(["train", str(two), "--arch", "resnet18", "--epochs", "0"]) == 2
    capsys.readouterr()
    # ImageNet weights are the default base; offline and not cached, the message says so
    assert main(["train", str(two), "--arch", "resnet18"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("pigeonhole: error:") and err.count("\n") == 1


@pytest.mark.slow
def test_pretrained_default_uses_cached_imagenet_weights(tmp_path, capsys):
    spec = get_arch("mobilenet_v3_small")
    target = os.environ["TORCH_HOME"] + "/hub/checkpoints/" + os.path.basename(spec.weights_url)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    from pigeonhole.core.models.archs import build_model

    torch.manual_seed(0)
    torch.save(build_model("mobilenet_v3_small", 1000).state_dict(), target)
    data = make_class_folders(tmp_path / "d", 3, ("red", "blue"), size=(64, 48))
    out = tmp_path / "m.pth"
    assert (
        main(
            ["train", str(data), "--arch", "mobilenet_v3_small", "--epochs", "2", "--out", str(out)]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "Loading MobileNet-V3" in text and out.is_file()
    saved = torch.load(out, weights_only=True)
    assert saved["arch"] == "mobilenet_v3_small" and saved["class_names"] == ["blue", "red"]
    assert "ImageNet" in saved["metrics"]["base_weights"]
