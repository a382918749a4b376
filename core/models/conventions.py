"""Which preprocessing a checkpoint was trained with: what the file states, what its folder
states, a convention recognised from how it was saved, or (nothing stated) the architecture's
ImageNet recipe, said to be an assumption. The order lives in :func:`stated_transform`.

Read here (each reader turns another tool's record into a TransformSpec):

* Pigeonhole's own checkpoints: the ``transform`` dict saved with the weights;
* timm: ``pretrained_cfg`` (input_size, crop_pct, crop_mode, interpolation, mean, std) in the
  checkpoint or in the ``config.json`` of a Hugging Face Hub folder; eval resize is
  ``floor(size / crop_pct)`` as in timm's ``transforms_imagenet_eval``;
* torchvision's reference ``train.py``: ``args.val_resize_size/val_crop_size/interpolation``;
* Lightning: ``hyper_parameters`` with a mean/std or an image size under a common name;
* Hugging Face image processors: ``preprocessor_config.json`` beside the weights;
* bubbliiiing/classification-pytorch: a raw state dict with ``cls_classes.txt`` (that
  repository's class-names file) or its ``epNNN-loss…-val_loss….pth`` file name.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Callable, Mapping
from pathlib import Path

from ..errors import PreprocessingError, first_line
from .archs import get_arch
from .files import find_sidecar
from .formats import RawCheckpoint
from .transforms import (
    ASSUMED,
    CP_CROP,
    CP_MEANSTD_CROP,
    IMAGENET_MEAN,
    IMAGENET_STD,
    TransformOrigin,
    TransformSpec,
)

log = logging.getLogger(__name__)

Reader = Callable[[Mapping], TransformSpec | None]

#: Backbones classification-pytorch gained on 2022-11-06, after it switched its pixel scaling
#: from x / 127.5 - 1 to ImageNet mean/std (2022-11-01): such a checkpoint is the newer code's.
CP_NEWER_ONLY = frozenset(
    ("resnet18", "resnet34", "resnet101", "resnet152")
    + ("vgg11", "vgg13", "vgg11_bn", "vgg13_bn", "vgg16_bn")
)
CP_CLASSES_FILE = "cls_classes.txt"
CP_FILE_NAME = re.compile(r"ep\d{3}-loss\d+\.\d+-val_loss\d+\.\d+\.pth$")
_PIL_RESAMPLE = {0: "nearest", 1: "lanczos", 2: "bilinear", 3: "bicubic", 4: "box", 5: "hamming"}


def stated_transform(
    raw: RawCheckpoint,
    path: Path,
    arch: str,
    classes_file: str | Path | None,
    notes: list[str],
) -> tuple[TransformSpec, TransformOrigin]:
    """The preprocessing of checkpoint ``path`` (read into ``raw``, architecture ``arch``) and
    where it came from. A record that cannot be used adds a note and the next rule is tried."""
    if raw.transform:
        what = "the preprocessing saved in the file"
        spec = _attempt(TransformSpec.from_dict, raw.transform, what, notes)
        if spec is not None:
            return spec, TransformOrigin("checkpoint", "saved with the weights")
    for key, reader, what in _FILE_READERS:
        if key in raw.hints:
            spec = _attempt(reader, raw.hints[key], what, notes)
            if spec is not None:
                return spec, TransformOrigin("checkpoint", what)
    for name, reader, what in _FOLDER_READERS:
        found = path.with_name(name)
        if found.is_file() and found != path:
            spec = _attempt(reader, _read_json(found), what, notes)
            if spec is not None:
                return spec, TransformOrigin("folder", what)
    recognised = classification_pytorch(raw, path, arch, classes_file)
    if recognised is not None:
        return recognised
    return get_arch(arch).transform, ASSUMED


def _attempt(reader: Reader, record, what: str, notes: list[str]) -> TransformSpec | None:
    """``reader(record)``, or None with a note when the record cannot be used."""
    if not isinstance(record, Mapping):
        detail = f" ({record})" if isinstance(record, str) else ""
        notes.append(f"{what} is not readable{detail}; ignored")
        return None
    try:
        return reader(record)
    except (PreprocessingError, TypeError, ValueError, KeyError, ZeroDivisionError) as e:
        log.debug("unusable preprocessing record (%s)", what, exc_info=True)
        notes.append(f"{what} cannot be used ({first_line(e, 160)}); ignored")
        return None


def _read_json(path: Path):
    """The file's JSON, or a string saying why it could not be read."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        return f"unreadable: {e}"  # not a Mapping: _attempt says so


# ---------------------------------------------------------------------------------------------
# bubbliiiing/classification-pytorch


def classification_pytorch(
    raw: RawCheckpoint, path: Path, arch: str, classes_file: str | Path | None
) -> tuple[TransformSpec, TransformOrigin] | None:
    """The classification-pytorch convention, when this is its kind of file: a raw
    ``torch.save(model.state_dict())`` with its ``cls_classes.txt`` (beside it or given as the
    class names file) or its ``epNNN-loss…-val_loss….pth`` name."""
    if raw.kind != "state_dict":
        return None
    names = Path(classes_file) if classes_file is not None else find_sidecar(path)
    if names is not None and names.name == CP_CLASSES_FILE:
        why = f"a raw state dict with {CP_CLASSES_FILE}"
    elif CP_FILE_NAME.search(path.name):
        why = "a raw state dict named epNNN-loss…-val_loss….pth"
    else:
        return None
    why += ", as bubbliiiing's classification-pytorch saves them"
    if arch in CP_NEWER_ONLY:
        return CP_MEANSTD_CROP, TransformOrigin(
            "convention",
            f"{why}; {arch} is in its code only from November 2022, which scales with ImageNet "
            "mean/std",
        )
    return CP_CROP, TransformOrigin(
        "convention",
        f"{why}; its predict scales x / 127.5 - 1; its code from November 2022 on uses ImageNet "
        "mean/std instead: preset classification-pytorch-meanstd",
    )


# ---------------------------------------------------------------------------------------------
# Other tools' records


def from_timm_config(cfg: Mapping) -> TransformSpec | None:
    """timm's ``pretrained_cfg``, as ``transforms_imagenet_eval`` applies it."""
    if not any(cfg.get(k) is not None for k in ("input_size", "crop_pct", "mean", "std")):
        return None
    size = cfg.get("input_size") or (3, 224, 224)
    height, width = int(size[-2]), int(size[-1])
    if height != width:
        raise PreprocessingError(f"a non-square input ({width}x{height}) is not supported")
    crop_pct = float(cfg.get("crop_pct") or 0.875)
    mode = str(cfg.get("crop_mode") or "center")
    resize_mode = {"center": "shorter", "squash": "exact", "border": "letterbox"}.get(mode)
    if resize_mode is None:
        raise PreprocessingError(f"unknown crop_mode '{mode}'")
    interpolation = str(cfg.get("interpolation") or "bicubic")
    mean = tuple(cfg.get("mean") or IMAGENET_MEAN)
    spec = TransformSpec.from_dict(
        {
            "resize": math.floor(height / crop_pct),
            "crop": height,
            "mean": mean,
            "std": tuple(cfg.get("std") or IMAGENET_STD),
            "interpolation": "bilinear" if interpolation == "random" else interpolation,
            "resize_mode": resize_mode,
            "fill": [round(255 * m) for m in (mean * 3 if len(mean) == 1 else mean)],
            "label": "timm",
        }
    )
    return spec


def from_script_args(args: Mapping) -> TransformSpec | None:
    """A training script's saved arguments: torchvision's reference ``train.py``
    (val_resize_size, val_crop_size, interpolation; ImageNet mean/std), or timm's ``train.py``
    (the data settings it was given, when any were)."""
    if "val_crop_size" in args or "val_resize_size" in args:
        return TransformSpec.from_dict(
            {
                "resize": args.get("val_resize_size") or 256,
                "crop": args.get("val_crop_size") or 224,
                "interpolation": args.get("interpolation") or "bilinear",
                "label": "torchvision reference",
            }
        )
    if "crop_pct" in args:  # timm's train.py: None means "the model's default", unknown here
        img = args.get("img_size")
        cfg = {
            "input_size": args.get("input_size") or ((3, img, img) if img else None),
            **{k: args.get(k) for k in ("crop_pct", "crop_mode", "mean", "std", "interpolation")},
        }
        return from_timm_config(cfg)
    return None


#: Lightning modules save whatever their author named; these are the common names.
_HP_NAMES = {
    "mean": ("mean", "image_mean", "norm_mean", "normalize_mean", "pixel_mean"),
    "std": ("std", "image_std", "norm_std", "normalize_std", "pixel_std"),
    "crop": ("crop_size", "image_size", "img_size", "input_size"),
    "resize": ("resize_size", "resize", "val_resize_size"),
    "interpolation": ("interpolation",),
}


def from_hyper_parameters(hp: Mapping) -> TransformSpec | None:
    """Lightning's ``hyper_parameters``: mean/std and sizes under common names. A stated size
    without a resize keeps ImageNet's 256/224 ratio."""
    found = {}
    for field_name, names in _HP_NAMES.items():
        for name in names:
            if hp.get(name) is not None:
                found[field_name] = hp[name]
                break
    if not (found.keys() & {"mean", "std", "crop"}):
        return None
    crop = found.get("crop", 224)
    if isinstance(crop, list | tuple):
        if len({int(c) for c in crop[-2:]}) != 1:
            raise PreprocessingError(f"a non-square input ({crop}) is not supported")
        crop = crop[-1]
    crop = int(crop)
    found["crop"] = crop
    found.setdefault("resize", crop * 256 // 224)
    return TransformSpec.from_dict({**found, "label": "Lightning hyper_parameters"})


def from_hf_processor(cfg: Mapping) -> TransformSpec | None:
    """A Hugging Face image processor's ``preprocessor_config.json``: resize (shortest edge, or
    height/width; ConvNeXt's crop_pct), optional centre crop, rescale + normalise."""
    size = cfg.get("size")
    if size is None or not cfg.get("do_resize", True):
        raise PreprocessingError("it does not resize to a fixed size")
    crop_pct = cfg.get("crop_pct")
    if isinstance(size, int | float):
        size = {"shortest_edge": size} if crop_pct else {"height": size, "width": size}
    if "shortest_edge" in size:
        edge = int(size["shortest_edge"])
        if crop_pct:  # ConvNeXt: shortest edge to edge / crop_pct, then crop; >= 384: warp
            resize, crop = (int(edge / float(crop_pct)), edge) if edge < 384 else (edge, edge)
            mode = "shorter" if edge < 384 else "exact"
        else:
            resize, mode = edge, "shorter"
            crop = _side(cfg.get("crop_size"), cfg.get("do_center_crop"))
    else:
        resize, mode = _side(size, True), "exact"
        crop = _side(cfg.get("crop_size"), cfg.get("do_center_crop")) or resize
    if not crop:
        raise PreprocessingError("it keeps the aspect ratio without cropping (not a square input)")
    rescale = float(cfg.get("rescale_factor", 1 / 255)) if cfg.get("do_rescale", True) else 1.0
    factor = 255 * rescale
    if cfg.get("do_normalize", True):
        mean, std = cfg["image_mean"], cfg["image_std"]
    else:
        mean, std = (0.0,), (1.0,)
    # the processor computes (x * rescale - mean) / std; a spec computes (x / 255 - m) / s
    return TransformSpec.from_dict(
        {
            "resize": resize,
            "crop": crop,
            "resize_mode": mode,
            "mean": [m / factor for m in _listed(mean)],
            "std": [s / factor for s in _listed(std)],
            "interpolation": _PIL_RESAMPLE.get(int(cfg.get("resample", 2)), "bilinear"),
            "label": "Hugging Face",
        }
    )


def _listed(value) -> list[float]:
    return [float(v) for v in (value if isinstance(value, list | tuple) else [value])]


def _side(size, enabled) -> int | None:
    """The side of a square size record ({"height": h, "width": w} or an int); None when
    ``enabled`` is false or there is none."""
    if not enabled or size is None:
        return None
    if isinstance(size, int | float):
        return int(size)
    height, width = int(size["height"]), int(size["width"])
    if height != width:
        raise PreprocessingError(f"a non-square input ({width}x{height}) is not supported")
    return height


def _timm_folder_config(data: Mapping) -> TransformSpec | None:
    cfg = data.get("pretrained_cfg") or data.get("default_cfg")
    return from_timm_config(cfg) if isinstance(cfg, Mapping) else None


_FILE_READERS: tuple[tuple[str, Reader, str], ...] = (
    ("pretrained_cfg", from_timm_config, "its timm pretrained_cfg"),
    ("default_cfg", from_timm_config, "its timm default_cfg"),
    ("args", from_script_args, "the training script's saved arguments"),
    ("hyper_parameters", from_hyper_parameters, "its Lightning hyper_parameters"),
    (
        "datamodule_hyper_parameters",
        from_hyper_parameters,
        "its Lightning datamodule hyper_parameters",
    ),
)
_FOLDER_READERS: tuple[tuple[str, Reader, str], ...] = (
    ("config.json", _timm_folder_config, "config.json beside it (timm pretrained_cfg)"),
    (
        "preprocessor_config.json",
        from_hf_processor,
        "preprocessor_config.json beside it (Hugging Face image processor)",
    ),
)
