"""Checkpoints made the way bubbliiiing/classification-pytorch makes them (a raw state dict and
``cls_classes.txt``) classify in `pigeonhole predict` as that repository's own prediction does
(tests/classification_pytorch.py re-implements it), without being told how: centre crop by
default, letterbox with the flag. Each model is decisive, trained under that repository's
preprocessing on generated colour photos; MobileNetV2 at the repository's 224 (the preset's
sizes, no flags at all), ResNet-50 at an input_shape of 64 to stay quick (the size given with
--resize/--crop, the scaling still recognised; --no-draft, because at 64 px Pillow's reduced-size
JPEG decoding would already start for these photos, a decoding shortcut measured by the bench,
not preprocessing). Runs and reference predictions are made once per model and shared."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision

from pigeonhole.cli import main
from pigeonhole.core.models.transforms import CP_CROP
from tests.classification_pytorch import detect_images
from tests.core.train_helpers import colour_fields, decisive_under

DECISIVE = 0.2  # top-1 minus top-2 probability in the repository's own prediction


@dataclass
class Made:
    arch: str
    size: int
    checkpoint: Path
    size_flags: list[str]  # what the user must say about an input_shape other than 224
    class_args: list[str]
    class_names: list[str]
    photos: list[Path]
    net: torch.nn.Module  # built and loaded the repository's way, not Pigeonhole's
    runs: dict = field(default_factory=dict)  # flags -> (labels, stderr)
    refs: dict = field(default_factory=dict)  # letterbox -> the repository's predictions


@pytest.fixture(scope="module", params=["mobilenet_v2", "resnet50"])
def made(request, tmp_path_factory) -> Made:
    arch = request.param
    size = 224 if arch == "mobilenet_v2" else 64
    root = tmp_path_factory.mktemp(arch)
    trained = decisive_under(arch, replace(CP_CROP, resize=size, crop=size), colour_fields(root / "train", 12))  # fmt: skip
    if arch == "mobilenet_v2":  # the weights and cls_classes.txt copied into one folder
        checkpoint = root / "logs" / "best_epoch_weights.pth"
        names_file, class_args = root / "logs" / "cls_classes.txt", []
    else:  # the repository's own layout: logs/ for weights, model_data/ for class names
        checkpoint = root / "logs" / "ep030-loss0.081-val_loss0.094.pth"
        names_file = root / "model_data" / "cls_classes.txt"
        class_args = ["--classes", str(names_file)]
    for folder in {checkpoint.parent, names_file.parent}:
        folder.mkdir(parents=True, exist_ok=True)
    torch.save(trained.model.state_dict(), checkpoint)  # utils_fit.py's save
    names_file.write_text("\n".join(trained.class_names) + "\n", encoding="utf-8")
    net = torchvision.models.get_model(arch, num_classes=len(trained.class_names))
    net.load_state_dict(torch.load(checkpoint, map_location="cpu", weights_only=True))
    photos = sorted(colour_fields(root / "photos", 4, seed=7).rglob("*.jpg"))  # unseen
    flags = [] if size == 224 else ["--resize", str(size), "--crop", str(size), "--no-draft"]
    return Made(arch, size, checkpoint, flags, class_args, trained.class_names, photos, net.eval())  # fmt: skip


def predict(made: Made, tmp_path: Path, capsys, *flags: str) -> tuple[dict[str, str], str]:
    """`pigeonhole predict` over the photos: ({file name: label}, stderr); run once per flags."""
    if flags not in made.runs:
        out = tmp_path / "results.json"
        argv = ["predict", *map(str, made.photos), "--checkpoint", str(made.checkpoint),
                *made.class_args, *flags, "--out", str(out), "--device", "cpu", "--quiet"]  # fmt: skip
        assert main(argv) == 0
        err = capsys.readouterr().err
        rows = json.loads(out.read_text(encoding="utf-8"))["predictions"]
        made.runs[flags] = {Path(r["path"]).name: r["label"] for r in rows}, err
    return made.runs[flags]


def reference(made: Made, letterbox: bool) -> dict[str, tuple[str, float]]:
    """The repository's prediction: {file name: (label, top-1 minus top-2 probability)}."""
    if letterbox not in made.refs:
        found = {}
        shape = (made.size, made.size)
        all_probs = detect_images(made.net, made.photos, input_shape=shape, letterbox=letterbox)
        for photo, probs in zip(made.photos, all_probs, strict=True):
            top2 = np.sort(probs)[-2:]
            label = made.class_names[int(np.argmax(probs))]
            found[photo.name] = (label, float(top2[1] - top2[0]))
        made.refs[letterbox] = found
    return made.refs[letterbox]


def decisive(ref: dict[str, tuple[str, float]]) -> dict[str, str]:
    chosen = {name: label for name, (label, margin) in ref.items() if margin >= DECISIVE}
    assert len(chosen) >= 0.8 * len(ref)  # the model is decisive: agreement means something
    return chosen


def accuracy(labels: dict[str, str]) -> float:
    return sum(label == name.split("_")[0] for name, label in labels.items()) / len(labels)


def test_predict_with_no_preprocessing_flags_classifies_as_its_predict_does(made, tmp_path, capsys):  # fmt: skip
    ours, err = predict(made, tmp_path, capsys, *made.size_flags)
    first = err.splitlines()[0]
    if made.size == 224:
        assert first.startswith(
            "pigeonhole: preprocessing: classification-pytorch: 224 → crop 224, [-1, 1] "
            "(recognised: a raw state dict with cls_classes.txt, as bubbliiiing's "
            "classification-pytorch saves them;"
        ), first
    else:  # the size was given; the scaling is the recognised convention's
        assert first.startswith(
            "pigeonhole: preprocessing: custom: 64 → crop 64, [-1, 1] (chosen by you: resize 64, "
            "crop 64, instead of classification-pytorch: 224 → crop 224, [-1, 1] (recognised)"
        ), first
    expected = decisive(reference(made, letterbox=False))
    assert {name: ours[name] for name in expected} == expected
    assert accuracy(ours) >= 0.75  # learnt, not just decisive


def test_the_letterbox_flag_classifies_as_its_letterbox_mode_does(made, tmp_path, capsys):
    ours, err = predict(made, tmp_path, capsys, "--preprocess", "classification-pytorch-letterbox", *made.size_flags)  # fmt: skip
    assert "letterbox" in err.splitlines()[0] and "bicubic, [-1, 1]" in err.splitlines()[0]
    expected = decisive(reference(made, letterbox=True))
    assert {name: ours[name] for name in expected} == expected
    centre, _ = predict(made, tmp_path, capsys, *made.size_flags)
    assert any(centre[name] != label for name, label in expected.items())  # the modes differ


def test_the_imagenet_assumption_would_not_classify_as_it_does(made, tmp_path, capsys):
    """What Pigeonhole did before it recognised the convention, and what any mismatch does:
    these comparisons can fail, and the right preprocessing is worth accuracy."""
    sizes = [] if made.size == 224 else ["--resize", str(made.size * 256 // 224), "--crop", str(made.size), "--no-draft"]  # fmt: skip
    ours, _ = predict(made, tmp_path, capsys, "--preprocess", "imagenet", *sizes)
    expected = decisive(reference(made, letterbox=False))
    wrong = [name for name, label in expected.items() if ours[name] != label]
    assert len(wrong) >= 0.1 * len(expected)
    right, _ = predict(made, tmp_path, capsys, *made.size_flags)
    assert accuracy(ours) < accuracy(right)
