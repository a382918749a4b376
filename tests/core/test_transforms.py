"""Preprocessing as data: the spec's saved form (old checkpoints' dicts included), its words,
the presets, and the user's override (validation, resolution, what the origin says)."""

from __future__ import annotations

import pytest

from pigeonhole.core.errors import PreprocessingError
from pigeonhole.core.models.archs import get_arch
from pigeonhole.core.models.transforms import (
    ASSUMED,
    CP_CROP,
    CP_LETTERBOX,
    IMAGENET_MEAN,
    IMAGENET_STD,
    PreprocessingOverride,
    TransformOrigin,
    TransformSpec,
    list_presets,
    preprocessing_line,
    preset_spec,
)

LETTERBOX_BGR = TransformSpec(
    resize=320, crop=300, mean=(0.1, 0.2, 0.3), std=(0.5, 0.6, 0.7), interpolation="bicubic",
    resize_mode="letterbox", fill=(0, 10, 255), channels="BGR", label="mine",
)  # fmt: skip


@pytest.mark.parametrize("spec", [TransformSpec(), CP_CROP, CP_LETTERBOX, LETTERBOX_BGR])
def test_round_trip_through_the_saved_dict(spec):
    back = TransformSpec.from_dict(spec.to_dict())
    assert back == spec and back.label == spec.label  # label is not compared: check it too
    assert back.describe() == spec.describe()


def test_an_old_checkpoints_transform_dict_loads_as_before():
    """Checkpoints saved before resize modes existed hold five keys; they mean the shorter-side
    rule, RGB, as they always did."""
    old = {"resize": 160, "crop": 128, "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25],
           "interpolation": "bicubic"}  # fmt: skip
    spec = TransformSpec.from_dict(old)
    assert (spec.resize, spec.crop, spec.interpolation) == (160, 128, "bicubic")
    assert spec.mean == (0.5,) * 3 and spec.std == (0.25,) * 3
    assert (spec.resize_mode, spec.channels, spec.fill) == ("shorter", "RGB", (128, 128, 128))
    assert spec.describe() == "custom: 160 → crop 128, bicubic, [-2, 2]"
    imagenet = {"resize": 256, "crop": 224, "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD),
                "interpolation": "bilinear"}  # fmt: skip
    assert TransformSpec.from_dict(imagenet).describe() == "ImageNet: 256 → crop 224, mean/std"


@pytest.mark.parametrize(
    "bad, words",
    [
        ({"crop": 300, "resize": 256}, "crop (300) is larger than the resize (256)"),
        ({"resize": 0}, "resize must be 1 to 4096"),
        ({"std": [1, 0, 1]}, "std must be a positive"),
        ({"resize_mode": "zoom"}, "unknown resize mode 'zoom'"),
        ({"interpolation": "magic"}, "unknown interpolation 'magic'"),
        ({"channels": "RGBA"}, "unknown channels 'RGBA'"),
        ({"fill": [0, 300, 0]}, "fill colour"),
        ({"mean": [1, 2]}, "Unreadable"),
        ({"crop": "big"}, "Unreadable"),
    ],
)
def test_unusable_settings_are_refused_with_the_setting_named(bad, words):
    with pytest.raises(PreprocessingError, match=words.replace("(", r"\(").replace(")", r"\)")):
        TransformSpec.from_dict(bad)


def test_descriptions_say_the_recipe_in_a_few_words():
    assert get_arch("resnet18").transform.describe() == "ImageNet: 256 → crop 224, mean/std"
    assert CP_CROP.describe() == "classification-pytorch: 224 → crop 224, [-1, 1]"
    assert CP_LETTERBOX.describe() == (
        "classification-pytorch: letterbox 224 on grey, bicubic, [-1, 1]"
    )
    assert LETTERBOX_BGR.describe() == (
        "mine: letterbox 320 on rgb(0,10,255) → crop 300, bicubic, mean 0.1,0.2,0.3 std "
        "0.5,0.6,0.7, BGR"
    )
    exact = TransformSpec.scaled_to(0, 1, resize=224, crop=224, resize_mode="exact")
    assert exact.describe() == "custom: stretch to 224x224, [0, 1]"
    line = preprocessing_line(CP_CROP, TransformOrigin("convention", "because"))
    assert line == "preprocessing: classification-pytorch: 224 → crop 224, [-1, 1] (recognised: because)"  # fmt: skip
    assert "assumed: nothing states" in preprocessing_line(TransformSpec(), ASSUMED)


def test_a_range_is_the_linear_scaling_it_names():
    """[-1, 1] is x / 127.5 - 1: 0 -> -1, 127.5 -> 0, 255 -> 1."""
    spec = TransformSpec.scaled_to(-1, 1)
    for pixel, value in ((0, -1.0), (127.5, 0.0), (255, 1.0)):
        assert all((pixel / 255 - m) / s == pytest.approx(value) for m, s in zip(spec.mean, spec.std, strict=True))  # fmt: skip
    with pytest.raises(PreprocessingError, match="empty"):
        TransformSpec.scaled_to(1, 1)


def test_presets_have_descriptions_and_the_imagenet_one_follows_the_architecture():
    presets = {p.name: p for p in list_presets()}
    assert list(presets)[:2] == ["imagenet", "classification-pytorch"]
    assert all(p.description for p in presets.values())
    inception = get_arch("inception_v3").transform
    assert preset_spec("imagenet", inception) == inception  # 342 -> 299
    assert (preset_spec("imagenet").resize, preset_spec("imagenet").crop) == (256, 224)
    meanstd = preset_spec("classification-pytorch-meanstd")
    assert meanstd.mean == IMAGENET_MEAN and meanstd.std == IMAGENET_STD
    assert (meanstd.resize, meanstd.crop, meanstd.resize_mode) == (224, 224, "shorter")
    assert preset_spec("classification-pytorch-meanstd-letterbox").resize_mode == "letterbox"


def test_an_override_changes_only_what_it_names():
    own = CP_CROP
    spec = PreprocessingOverride(resize=64, crop=56).resolve(own)
    assert (spec.resize, spec.crop) == (64, 56)
    assert (spec.mean, spec.std, spec.interpolation) == (own.mean, own.std, own.interpolation)
    assert spec.label == "custom"
    assert PreprocessingOverride(preset="classification-pytorch-letterbox").resolve(TransformSpec()) == CP_LETTERBOX  # fmt: skip
    boxed = PreprocessingOverride(resize_mode="letterbox", crop=192).resolve(TransformSpec())
    assert (boxed.resize, boxed.crop, boxed.resize_mode) == (192, 192, "letterbox")  # canvas = crop
    with_preset = PreprocessingOverride(preset="imagenet", crop=200).resolve(CP_CROP, TransformSpec())  # fmt: skip
    assert (with_preset.resize, with_preset.crop, with_preset.scaling()) == (256, 200, "mean/std")


def test_an_override_fails_when_made_or_when_it_cannot_fit_the_model():
    with pytest.raises(PreprocessingError, match="Unknown preprocessing preset 'yolo'"):
        PreprocessingOverride(preset="yolo")
    with pytest.raises(PreprocessingError, match="crop"):
        PreprocessingOverride(resize=100, crop=200)
    crop_only = PreprocessingOverride(crop=300)  # fine on its own...
    with pytest.raises(PreprocessingError, match=r"crop \(300\) is larger than the resize \(224\)"):
        crop_only.resolve(CP_CROP)  # ...but not on a 224 model


def test_the_origin_of_a_users_choice_says_what_the_model_had():
    choice = PreprocessingOverride(preset="classification-pytorch-letterbox")
    spec, origin = choice.choose(CP_CROP, TransformOrigin("convention", "cls_classes.txt"))
    assert spec == CP_LETTERBOX and origin.kind == "user"
    assert origin.describe() == (
        "chosen by you: preset classification-pytorch-letterbox, instead of "
        "classification-pytorch: 224 → crop 224, [-1, 1] (recognised)"
    )
    same, origin = PreprocessingOverride(preset="classification-pytorch").choose(CP_CROP, ASSUMED)
    assert same == CP_CROP and origin.reason.endswith("the same as assumed")
