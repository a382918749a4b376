"""Which preprocessing a loaded checkpoint gets, and where it says it came from: the file's own
record, another tool's record in the file or beside it, a recognised convention, the user's
choice, or an assumption (each written the way that tool writes it)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from pigeonhole.core.models.archs import get_arch
from pigeonhole.core.models.checkpoints import ModelSource, load_checkpoint, load_model
from pigeonhole.core.models.conventions import from_hf_processor
from pigeonhole.core.models.transforms import (
    CP_CROP,
    CP_LETTERBOX,
    CP_MEANSTD_CROP,
    IMAGENET_MEAN,
    IMAGENET_STD,
    PreprocessingOverride,
)
from tests.core.conftest import tiny_model

ARCH = "resnet18"
CP_ARCH = "mobilenet_v2"  # one of classification-pytorch's backbones since 2021


def state(arch: str = ARCH) -> dict:
    return tiny_model(arch, 2).state_dict()


def raw_state_dict(path: Path, arch: str = CP_ARCH) -> Path:
    """What classification-pytorch's fit_one_epoch writes: torch.save(model.state_dict())."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state(arch), path)
    return path


def test_pigeonholes_own_record_comes_first(make_checkpoint, tmp_path):
    from pigeonhole.core.models.checkpoints import save_checkpoint

    path = tmp_path / "model.pth"
    save_checkpoint(path, tiny_model(ARCH, 2), ARCH, ["a", "b"], CP_LETTERBOX)
    (tmp_path / "cls_classes.txt").write_text("x\ny\n")  # no effect: the file says what it is
    loaded = load_checkpoint(path)
    assert loaded.transform == CP_LETTERBOX and loaded.transform.label == "classification-pytorch"
    assert loaded.transform_origin.kind == "checkpoint"
    assert loaded.preprocessing_line() == (
        "preprocessing: classification-pytorch: letterbox 224 on grey, bicubic, [-1, 1] "
        "(stated by the checkpoint: saved with the weights)"
    )


def test_timm_pretrained_cfg_in_the_checkpoint(tmp_path):
    cfg = {"input_size": [3, 224, 224], "crop_pct": 0.95, "interpolation": "bicubic",
           "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5], "crop_mode": "center"}  # fmt: skip
    path = tmp_path / "timm.pth"
    torch.save({"state_dict": state(), "pretrained_cfg": cfg}, path)
    loaded = load_checkpoint(path)
    t = loaded.transform
    assert (t.resize, t.crop, t.interpolation, t.resize_mode) == (235, 224, "bicubic", "shorter")
    assert t.describe() == "timm: 235 → crop 224, bicubic, [-1, 1]"  # floor(224 / 0.95)
    assert loaded.transform_origin.describe() == "stated by the checkpoint: its timm pretrained_cfg"


def test_timm_hub_folder_config_json(tmp_path):
    save_file(state(), str(tmp_path / "model.safetensors"))
    config = {"architecture": "resnet18", "num_classes": 2,
              "pretrained_cfg": {"input_size": [3, 256, 256], "crop_pct": 1.0,
                                 "crop_mode": "squash", "interpolation": "bilinear"}}  # fmt: skip
    (tmp_path / "config.json").write_text(json.dumps(config))
    loaded = load_checkpoint(tmp_path / "model.safetensors")
    t = loaded.transform
    assert (t.resize, t.crop, t.resize_mode) == (256, 256, "exact")
    assert (t.mean, t.std) == (IMAGENET_MEAN, IMAGENET_STD)  # timm's defaults when unstated
    assert loaded.transform_origin.kind == "folder"
    assert "config.json" in loaded.transform_origin.reason


@pytest.mark.parametrize(
    "config, expected",
    [
        (  # ConvNeXt/ResNet processors: shortest edge 224 / crop_pct, then crop
            {"image_processor_type": "ConvNextImageProcessor", "size": {"shortest_edge": 224},
             "crop_pct": 0.875, "resample": 3, "do_rescale": True,
             "rescale_factor": 0.00392156862745098, "do_normalize": True,
             "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225]},
            (256, 224, "shorter", "bicubic", "mean/std"),
        ),
        (  # ViT processors: stretched to height x width, [-1, 1]
            {"image_processor_type": "ViTImageProcessor", "size": {"height": 384, "width": 384},
             "resample": 2, "do_rescale": True, "rescale_factor": 0.00392156862745098,
             "do_normalize": True, "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]},
            (384, 384, "exact", "bilinear", "[-1, 1]"),
        ),
        (  # BiT processors: shortest edge, then a centre crop
            {"image_processor_type": "BitImageProcessor", "size": {"shortest_edge": 256},
             "do_center_crop": True, "crop_size": {"height": 224, "width": 224}, "resample": 3,
             "do_normalize": False},
            (256, 224, "shorter", "bicubic", "[0, 1]"),
        ),
    ],
    ids=["convnext", "vit", "bit"],
)  # fmt: skip
def test_hugging_face_preprocessor_config_beside_model_safetensors(tmp_path, config, expected):
    save_file(state(), str(tmp_path / "model.safetensors"))
    (tmp_path / "preprocessor_config.json").write_text(json.dumps(config))
    loaded = load_checkpoint(tmp_path / "model.safetensors")
    t = loaded.transform
    assert (t.resize, t.crop, t.resize_mode, t.interpolation, t.scaling()) == expected
    assert loaded.transform_origin.kind == "folder" and t.label == "Hugging Face"


def test_hugging_face_rescale_and_normalise_become_the_same_arithmetic():
    """The processor computes (x * rescale_factor - mean) / std, with rescaling or normalising
    switched off or not; the spec computes (x / 255 - m) / s: the same numbers either way."""
    x = torch.arange(0, 256, dtype=torch.float64)
    base = {"size": {"height": 8, "width": 8}, "image_mean": [0.2, 0.3, 0.4],
            "image_std": [0.5, 0.6, 0.7]}  # fmt: skip
    for rescale in (True, False):
        for normalise in (True, False):
            cfg = {**base, "do_rescale": rescale, "rescale_factor": 1 / 127.5,
                   "do_normalize": normalise}  # fmt: skip
            spec = from_hf_processor(cfg)
            factor = 1 / 127.5 if rescale else 1.0
            for c in range(3):
                mean, std = (base["image_mean"][c], base["image_std"][c]) if normalise else (0, 1)
                theirs = (x * factor - mean) / std
                ours = (x / 255 - spec.mean[c]) / spec.std[c]
                assert torch.allclose(ours, theirs), (rescale, normalise, c)


def test_torchvision_reference_script_arguments(tmp_path):
    args = argparse.Namespace(model="resnet18", val_resize_size=232, val_crop_size=224,
                              interpolation="bilinear", lr=0.5)  # fmt: skip
    path = tmp_path / "checkpoint.pth"
    torch.save({"model": state(), "args": args, "epoch": 3}, path)
    loaded = load_checkpoint(path)
    assert (loaded.transform.resize, loaded.transform.crop) == (232, 224)
    assert loaded.transform.describe() == "torchvision reference: 232 → crop 224, mean/std"
    assert loaded.transform_origin.reason == "the training script's saved arguments"


def test_lightning_hyper_parameters(tmp_path):
    path = tmp_path / "epoch=9-step=100.ckpt"
    hp = {"lr": 0.001, "image_size": 112, "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]}
    torch.save({"state_dict": state(), "hyper_parameters": hp, "epoch": 9}, path)
    loaded = load_checkpoint(path, arch=ARCH)
    assert (loaded.transform.resize, loaded.transform.crop) == (128, 112)  # 256/224 ratio kept
    assert loaded.transform.scaling() == "[-1, 1]"
    assert loaded.transform_origin.reason == "its Lightning hyper_parameters"
    torch.save({"state_dict": state(), "hyper_parameters": {"lr": 0.1}}, path)  # nothing said
    assert load_checkpoint(path, arch=ARCH).transform_origin.kind == "assumed"


@pytest.mark.parametrize("where", ["beside", "given", "file name"])
def test_classification_pytorch_is_recognised_the_ways_it_saves(tmp_path, where):
    """logs/ep050-loss….pth + model_data/cls_classes.txt is that repository's layout; the
    class names file beside the weights or given as --classes says the same."""
    name = "ep050-loss0.123-val_loss0.456.pth" if where == "file name" else "best_epoch_weights.pth"  # fmt: skip
    path = raw_state_dict(tmp_path / "logs" / name)
    classes = None
    if where == "beside":
        (tmp_path / "logs" / "cls_classes.txt").write_text("cat\ndog\n")
    elif where == "given":
        classes = tmp_path / "model_data" / "cls_classes.txt"
        classes.parent.mkdir()
        classes.write_text("cat\ndog\n")
    loaded = load_checkpoint(path, classes_file=classes)
    assert loaded.transform == CP_CROP and loaded.transform_origin.kind == "convention"
    reason = loaded.transform_origin.reason
    assert "bubbliiiing's classification-pytorch" in reason and "x / 127.5 - 1" in reason
    assert ("cls_classes.txt" in reason) == (where != "file name")


def test_a_backbone_only_in_its_newer_code_means_its_newer_scaling(tmp_path):
    """resnet18 came to classification-pytorch after it moved to ImageNet mean/std."""
    path = raw_state_dict(tmp_path / "last_epoch_weights.pth", "resnet18")
    (tmp_path / "cls_classes.txt").write_text("cat\ndog\n")
    loaded = load_checkpoint(path)
    assert loaded.arch == "resnet18" and loaded.transform == CP_MEANSTD_CROP
    assert "only from November 2022" in loaded.transform_origin.reason


@pytest.mark.parametrize("case", ["classes.txt", "wrapped dict"])
def test_no_convention_without_its_signs(tmp_path, case):
    if case == "classes.txt":
        path = raw_state_dict(tmp_path / "weights.pth", ARCH)
        (tmp_path / "classes.txt").write_text("cat\ndog\n")
    else:  # classification-pytorch never wraps its weights in a dict
        path = tmp_path / "weights.pth"
        torch.save({"state_dict": state()}, path)
        (tmp_path / "cls_classes.txt").write_text("cat\ndog\n")
    loaded = load_checkpoint(path)
    assert loaded.transform == get_arch(ARCH).transform
    assert loaded.transform_origin.kind == "assumed"
    assert loaded.preprocessing_line().startswith(
        "preprocessing: ImageNet: 256 → crop 224, mean/std (assumed: nothing states"
    )


def test_an_unusable_record_is_noted_and_the_next_rule_applies(tmp_path):
    path = raw_state_dict(tmp_path / "model.pth")
    (tmp_path / "preprocessor_config.json").write_text("{not json")
    (tmp_path / "cls_classes.txt").write_text("cat\ndog\n")
    loaded = load_checkpoint(path)
    assert loaded.transform == CP_CROP  # the convention, next in line
    assert any("preprocessor_config.json" in n and "ignored" in n for n in loaded.notes)
    torch.save({"state_dict": state(), "pretrained_cfg": {"input_size": [3, 224, 320]}}, path)
    loaded = load_checkpoint(path)
    assert loaded.transform_origin.kind == "assumed"
    assert any("non-square input (320x224)" in n for n in loaded.notes)


def test_the_users_choice_wins_and_says_what_it_replaced(tmp_path):
    path = raw_state_dict(tmp_path / "model.pth")
    (tmp_path / "cls_classes.txt").write_text("cat\ndog\n")
    choice = PreprocessingOverride(preset="classification-pytorch-letterbox")
    loaded = load_model(ModelSource(checkpoint=str(path), preprocessing=choice))
    assert loaded.transform == CP_LETTERBOX and loaded.transform_origin.kind == "user"
    assert "instead of classification-pytorch: 224 → crop 224, [-1, 1] (recognised)" in (
        loaded.preprocessing_line()
    )
    sized = load_model(ModelSource(checkpoint=str(path), preprocessing=PreprocessingOverride(crop=200)))  # fmt: skip
    assert (sized.transform.resize, sized.transform.crop) == (224, 200)
    assert sized.transform.scaling() == "[-1, 1]"  # the recognised scaling stays
