"""The preprocessing options of `predict`, `train` and `bench`: each bad value is one error line
naming its option, before anything loads; a choice shows in the first line; fine-tuning keeps a
checkpoint's preprocessing and the saved model records it."""

from __future__ import annotations

import pytest
import torch

from pigeonhole.cli import main
from pigeonhole.core.data.synthetic import make_class_folders
from pigeonhole.core.models.archs import build_model
from pigeonhole.core.models.checkpoints import load_checkpoint, save_checkpoint
from pigeonhole.core.models.transforms import CP_CROP, TransformSpec


def one_error_line(err: str) -> str:
    lines = [ln for ln in err.strip().splitlines() if ln]
    assert len(lines) == 1 and lines[0].startswith("pigeonhole: error:"), err
    return lines[0]


BAD = [
    (
        ["--preprocess", "yolo"],
        "--preprocess: unknown preset 'yolo'; use imagenet, classification-pytorch",
    ),  # fmt: skip
    (["--resize", "0"], "--resize must be 1 to 4096 pixels (got 0)"),
    (["--resize", "256x200"], "--resize: only square sizes NxN are supported"),
    (["--resize", "big"], "--resize takes N or NxN (got 'big')"),
    (["--crop", "2.5"], "--crop takes a whole number of pixels"),
    (["--crop", "300", "--resize", "256"], "--crop 300 is larger than --resize 256"),
    (["--mean", "0.5,0.5"], "--mean takes 3 numbers separated by commas (R,G,B), got '0.5,0.5'"),
    (["--std", "0.2,0,0.2"], "--std: every value must be above 0"),
    (["--std", "nan"], "--std takes 3 numbers"),
    (["--range", "1,-1"], "--range: LOW must be below HIGH"),
    (["--range", "-1,1", "--mean", "0.5"], "--range replaces --mean/--std"),
    (["--fill", "300,0,0"], "--fill: each colour must be 0-255"),
    (["--fill", "1.5"], "--fill: each colour must be 0-255"),
    (["--letterbox", "--resize", "224x224"], "--letterbox and --resize NxN"),
    (["--interpolation", "magic"], "--interpolation: unknown 'magic'"),
    (["--channels", "RGBA"], "--channels must be RGB or BGR"),
]


@pytest.mark.parametrize("flags, words", BAD, ids=[" ".join(f) for f, _ in BAD])
def test_predict_refuses_bad_values_naming_the_option(tmp_path, capsys, flags, words):
    """The checkpoint does not exist: the option's error comes first, so nothing was loaded."""
    argv = ["predict", str(tmp_path), "--checkpoint", str(tmp_path / "missing.pth"), *flags]
    assert main(argv) == 2
    assert words in one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize("command", ["train", "bench"])
def test_train_and_bench_check_the_same_options(tmp_path, capsys, command):
    target = [str(tmp_path), "--arch", "resnet18"]
    assert main([command, *target, "--mean", "1,2"]) == 2
    assert "--mean takes 3 numbers" in one_error_line(capsys.readouterr().err)


def test_a_users_choice_is_the_first_line_and_is_what_runs(tmp_path, capsys):
    torch.manual_seed(0)
    ckpt = tmp_path / "pets.pth"
    save_checkpoint(ckpt, build_model("resnet18", 2), "resnet18", ["cat", "dog"], TransformSpec(resize=72, crop=64))  # fmt: skip
    photos = make_class_folders(tmp_path / "photos", 1, ("red",), size=(80, 40))
    argv = ["predict", str(photos), "--checkpoint", str(ckpt), "--letterbox", "--crop", "48",
            "--range", "-1,1", "--fill", "0,0,0", "--channels", "bgr", "--quiet"]  # fmt: skip
    assert main(argv) == 0
    first = capsys.readouterr().err.splitlines()[0]
    assert first == (
        "pigeonhole: preprocessing: custom: letterbox 48 on rgb(0,0,0), [-1, 1], BGR (chosen "
        "by you: crop 48, resize mode letterbox, mean 0.5,0.5,0.5, std 0.5,0.5,0.5, fill 0,0,0, "
        "channels BGR, instead of custom: 72 → crop 64, mean/std (stated by the checkpoint))"
    )


def test_fine_tuning_a_classification_pytorch_checkpoint_keeps_its_preprocessing(tmp_path, capsys):  # fmt: skip
    """The base is recognised; the trained model is saved with that preprocessing, so it
    loads with it again (stated by the checkpoint now, not guessed)."""
    torch.manual_seed(0)
    base = tmp_path / "logs" / "ep010-loss0.300-val_loss0.400.pth"
    base.parent.mkdir()
    torch.save(build_model("mobilenet_v3_small", 2).state_dict(), base)
    (tmp_path / "logs" / "cls_classes.txt").write_text("cat\ndog\n")
    data = make_class_folders(tmp_path / "data", 4, ("red", "blue"), size=(64, 48))
    out = tmp_path / "tuned.pth"
    argv = ["train", str(data), "--checkpoint", str(base), "--epochs", "2", "--out", str(out)]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "pigeonhole: preprocessing: classification-pytorch: 224 → crop 224, [-1, 1] (recognised" in err  # fmt: skip
    tuned = load_checkpoint(out)
    assert tuned.transform == CP_CROP and tuned.transform.label == "classification-pytorch"
    assert tuned.transform_origin.kind == "checkpoint" and tuned.class_names == ["blue", "red"]
