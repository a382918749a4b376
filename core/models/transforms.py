"""Preprocessing, the half of a model that is not weights: how an image becomes its input.

A :class:`TransformSpec` says it all (resize rule, centre crop, interpolation, pixel scaling,
channel order) and travels with the model; :class:`TransformOrigin` says where it came from (the
checkpoint, its folder, a recognised convention, the user, or an assumption). Named presets
(:func:`list_presets`) and a user's :class:`PreprocessingOverride` are resolved here too, so the
CLI and the app choose preprocessing the same way. Pixel operations live in core.data.images (Pillow)
and core.runtime.gpu_decode (on the device); this module imports neither torch nor torchvision.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace

from ..errors import PreprocessingError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: shorter: shorter side to ``resize`` (aspect kept); exact: stretched to resize x resize;
#: letterbox: fitted inside a resize x resize canvas of the fill colour (aspect kept).
RESIZE_MODES = ("shorter", "exact", "letterbox")
CHANNEL_ORDERS = ("RGB", "BGR")
#: Interpolation names a spec may carry (core.data.images maps them to torchvision's modes).
INTERPOLATION_NAMES = (
    "bilinear",
    "bicubic",
    "nearest",
    "nearest-exact",
    "lanczos",
    "box",
    "hamming",
)
GREY = (128, 128, 128)
MAX_SIZE = 4096


@dataclass(frozen=True, slots=True)
class TransformSpec:
    """How an image becomes the model's input: resize (``resize_mode``, to ``resize``), centre
    crop to ``crop``, then ``(pixel / 255 - mean) / std`` per channel, in ``channels`` order
    (mean and std are listed in that order). ``label`` names the recipe in summaries."""

    resize: int = 256
    crop: int = 224
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    interpolation: str = "bilinear"
    resize_mode: str = "shorter"
    fill: tuple[int, int, int] = GREY  # the letterbox canvas colour
    channels: str = "RGB"
    label: str = field(default="", compare=False)  # "ImageNet", "classification-pytorch"...

    @classmethod
    def scaled_to(cls, low: float, high: float, **kwargs) -> TransformSpec:
        """A spec whose pixels go linearly from ``low`` (0) to ``high`` (255): [-1, 1] is
        ``x / 127.5 - 1``, written as mean 0.5, std 0.5."""
        if not high > low:
            raise PreprocessingError(f"The range [{low:g}, {high:g}] is empty: low must be < high.")
        span = high - low
        return cls(mean=(-low / span,) * 3, std=(1 / span,) * 3, **kwargs)

    def to_dict(self) -> dict:
        """Plain values (JSON and ``torch.load(weights_only=True)`` read them), every field."""
        return {
            "resize": self.resize,
            "crop": self.crop,
            "mean": list(self.mean),
            "std": list(self.std),
            "interpolation": self.interpolation,
            "resize_mode": self.resize_mode,
            "fill": list(self.fill),
            "channels": self.channels,
            "label": self.label,
        }

    @classmethod
    def from_dict(cls, d: dict) -> TransformSpec:
        """The spec a saved dict describes; keys it lacks (older checkpoints saved only resize,
        crop, mean, std, interpolation) keep their defaults, and such a dict with ImageNet's
        mean/std is labelled "ImageNet", as it was. Raises PreprocessingError when the values
        cannot work."""
        try:
            spec = cls(
                resize=int(d.get("resize", 256)),
                crop=int(d.get("crop", 224)),
                mean=_triple(d.get("mean", IMAGENET_MEAN), float),
                std=_triple(d.get("std", IMAGENET_STD), float),
                interpolation=str(d.get("interpolation", "bilinear")),
                resize_mode=str(d.get("resize_mode", "shorter")),
                fill=_triple(d.get("fill", GREY), int),
                channels=str(d.get("channels", "RGB")).upper(),
                label=str(d.get("label", "") or ""),
            )
        except (TypeError, ValueError) as e:
            raise PreprocessingError(f"Unreadable preprocessing settings ({e}).") from None
        spec.check()
        if "label" not in d and spec.scaling() == "mean/std":
            spec = replace(spec, label="ImageNet")
        return spec

    def check(self) -> TransformSpec:
        """Raise PreprocessingError (one line, naming the setting) unless this spec can work."""
        problem = self._problem()
        if problem:
            raise PreprocessingError(f"Preprocessing: {problem}.")
        return self

    def _problem(self) -> str | None:
        for name in ("resize", "crop"):
            value = getattr(self, name)
            if not 1 <= value <= MAX_SIZE:
                return f"{name} must be 1 to {MAX_SIZE} (got {value})"
        if self.crop > self.resize:
            return f"the crop ({self.crop}) is larger than the resize ({self.resize})"
        for name, allowed in (
            ("resize_mode", RESIZE_MODES),
            ("interpolation", INTERPOLATION_NAMES),
            ("channels", CHANNEL_ORDERS),
        ):
            if getattr(self, name) not in allowed:
                words = name.replace("_", " ")
                return f"unknown {words} '{getattr(self, name)}' (use {', '.join(allowed)})"
        if not all(math.isfinite(m) for m in self.mean):
            return "the mean must be finite numbers"
        if not all(math.isfinite(s) and s > 0 for s in self.std):
            return "every std must be a positive number"
        if not all(0 <= c <= 255 for c in self.fill):
            return "the fill colour must be 0-255 per channel"
        return None

    # -- words for people -------------------------------------------------------------------

    def describe(self) -> str:
        """A few words: "ImageNet: 256 → crop 224, mean/std",
        "classification-pytorch: letterbox 224 on grey, bicubic, [-1, 1]"."""
        if self.resize_mode == "letterbox":
            fill = "grey" if self.fill == GREY else "rgb({},{},{})".format(*self.fill)
            geometry = f"letterbox {self.resize} on {fill}"
            if self.crop < self.resize:
                geometry += f" → crop {self.crop}"
        elif self.resize_mode == "exact":
            geometry = f"stretch to {self.resize}x{self.resize}"
            if self.crop < self.resize:
                geometry += f" → crop {self.crop}"
        else:
            geometry = f"{self.resize} → crop {self.crop}"
        parts = [geometry]
        if self.interpolation != "bilinear":
            parts.append(self.interpolation)
        parts.append(self.scaling())
        if self.channels != "RGB":
            parts.append(self.channels)
        return f"{self.label or 'custom'}: {', '.join(parts)}"

    def scaling(self) -> str:
        """The pixel scaling in words: "mean/std" (ImageNet's), "[-1, 1]", "[0, 1]" or the
        numbers."""
        if _close(self.mean, IMAGENET_MEAN) and _close(self.std, IMAGENET_STD):
            return "mean/std"
        if len(set(self.mean)) == 1 and len(set(self.std)) == 1:
            low, high = -self.mean[0] / self.std[0], (1 - self.mean[0]) / self.std[0]
            return f"[{_num(low)}, {_num(high)}]"
        return f"mean {_nums(self.mean)} std {_nums(self.std)}"


def _triple(value, kind) -> tuple:
    if isinstance(value, int | float | str):
        value = [value]
    values = [kind(v) for v in value]
    if len(values) == 1:
        values *= 3
    if len(values) != 3:
        raise ValueError(f"expected 1 or 3 values, got {len(values)}")
    return tuple(values)


def _close(a, b) -> bool:
    return all(abs(x - y) < 5e-4 for x, y in zip(a, b, strict=True))


def _num(x: float) -> str:
    return f"{round(x, 4) + 0.0:g}"  # + 0.0: no "-0"


def _nums(xs) -> str:
    return ",".join(_num(x) for x in xs)


# ---------------------------------------------------------------------------------------------
# Where it came from


ORIGIN_KINDS = ("checkpoint", "folder", "convention", "user", "weights", "assumed")


@dataclass(frozen=True, slots=True)
class TransformOrigin:
    """Where a model's preprocessing came from, and why: ``kind`` is one of ORIGIN_KINDS;
    ``reason`` a short phrase for people ("saved in the checkpoint", "cls_classes.txt beside a
    raw state dict: bubbliiiing's classification-pytorch...")."""

    kind: str
    reason: str

    @property
    def lead(self) -> str:
        """The kind in words: "recognised", "assumed", "stated by the checkpoint"..."""
        return {
            "checkpoint": "stated by the checkpoint",
            "folder": "stated beside the checkpoint",
            "convention": "recognised",
            "user": "chosen by you",
            "weights": "the weights' own",
            "assumed": "assumed",
        }.get(self.kind, self.kind)

    def describe(self) -> str:
        return f"{self.lead}: {self.reason}" if self.reason else self.lead


#: Nothing states the preprocessing: the architecture's ImageNet recipe is used, and said so.
ASSUMED = TransformOrigin(
    "assumed", "nothing states how this model was trained; ImageNet's recipe is the usual one"
)


def preprocessing_line(spec: TransformSpec, origin: TransformOrigin) -> str:
    """One line for a summary: "preprocessing: ImageNet: 256 → crop 224, mean/std (assumed:
    ...)"."""
    return f"preprocessing: {spec.describe()} ({origin.describe()})"


# ---------------------------------------------------------------------------------------------
# Presets


@dataclass(frozen=True, slots=True)
class Preset:
    """A named recipe the user can pick. ``spec`` None: the architecture's own torchvision
    ImageNet recipe (most: 256 → crop 224; Inception v3: 342 → crop 299)."""

    name: str
    description: str
    spec: TransformSpec | None


#: bubbliiiing/classification-pytorch's predict at its input_shape 224 (classification.py,
#: utils/utils.py): letterbox_image False resizes the shorter side (Pillow bilinear, sizes
#: truncated) and centre-crops; True pastes a bicubic resize onto a grey canvas. Its pixels are
#: x / 127.5 - 1 in the code before November 2022 and ImageNet mean/std from then on.
CP_CROP = TransformSpec.scaled_to(-1.0, 1.0, resize=224, crop=224, label="classification-pytorch")
CP_LETTERBOX = replace(CP_CROP, resize_mode="letterbox", interpolation="bicubic")
CP_MEANSTD_CROP = replace(CP_CROP, mean=IMAGENET_MEAN, std=IMAGENET_STD)
CP_MEANSTD_LETTERBOX = replace(CP_LETTERBOX, mean=IMAGENET_MEAN, std=IMAGENET_STD)

_PRESETS = (
    Preset(
        "imagenet",
        "torchvision's ImageNet recipe for the architecture: shorter side 256, centre crop 224 "
        "(Inception v3: 342/299...), ImageNet mean/std",
        None,
    ),
    Preset(
        "classification-pytorch",
        "bubbliiiing/classification-pytorch (its code before November 2022): shorter side 224, "
        "centre crop 224, x / 127.5 - 1",
        CP_CROP,
    ),
    Preset(
        "classification-pytorch-letterbox",
        "the same with letterbox_image = True: fitted inside 224x224 on grey (bicubic), "
        "x / 127.5 - 1",
        CP_LETTERBOX,
    ),
    Preset(
        "classification-pytorch-meanstd",
        "bubbliiiing/classification-pytorch from November 2022 on: shorter side 224, centre "
        "crop 224, ImageNet mean/std",
        CP_MEANSTD_CROP,
    ),
    Preset(
        "classification-pytorch-meanstd-letterbox",
        "the same with letterbox_image = True: fitted inside 224x224 on grey (bicubic), "
        "ImageNet mean/std",
        CP_MEANSTD_LETTERBOX,
    ),
)


def list_presets() -> list[Preset]:
    """Every preset, in the order a list shows them."""
    return list(_PRESETS)


def preset_names() -> list[str]:
    return [p.name for p in _PRESETS]


def get_preset(name: str) -> Preset:
    key = str(name).strip().lower()
    for preset in _PRESETS:
        if preset.name == key:
            return preset
    raise PreprocessingError(
        f"Unknown preprocessing preset '{name}': use {', '.join(preset_names())}."
    )


def preset_spec(name: str, imagenet: TransformSpec | None = None) -> TransformSpec:
    """The spec of preset ``name``; "imagenet" is the architecture's own recipe ``imagenet``
    (its registry record's transform), or torchvision's classic 256/224 when not given."""
    preset = get_preset(name)
    if preset.spec is not None:
        return preset.spec
    return imagenet or TransformSpec(label="ImageNet")


# ---------------------------------------------------------------------------------------------
# What the user asked for


@dataclass(frozen=True, slots=True)
class PreprocessingOverride:
    """The user's choice: a preset and/or single settings (None: keep what the model has).
    Carried on ModelSource, so the CLI and the app load "this file, with this preprocessing"
    the same way; resolved against the model's own preprocessing when it loads."""

    preset: str | None = None
    resize: int | None = None
    crop: int | None = None
    resize_mode: str | None = None  # "shorter" | "exact" | "letterbox"
    mean: tuple[float, float, float] | None = None
    std: tuple[float, float, float] | None = None
    interpolation: str | None = None
    fill: tuple[int, int, int] | None = None
    channels: str | None = None

    def __post_init__(self) -> None:
        """Fail now, before anything loads: an unknown preset, or single settings that cannot
        work whatever they are applied to (a crop larger than the resize given with it...)."""
        if self.preset is not None:
            get_preset(self.preset)
        self._apply(TransformSpec(resize=MAX_SIZE, crop=1)).check()

    @property
    def changes(self) -> dict:
        """The single settings given (not the preset)."""
        names = [f.name for f in fields(self) if f.name != "preset"]
        return {n: getattr(self, n) for n in names if getattr(self, n) is not None}

    def resolve(self, base: TransformSpec, imagenet: TransformSpec | None = None) -> TransformSpec:
        """The spec to use: the preset's (``imagenet``: the architecture's ImageNet recipe) or
        ``base``, with the single settings applied. Letterboxing without a resize puts the
        image on a canvas of the crop's size. Raises PreprocessingError when it cannot work."""
        spec = preset_spec(self.preset, imagenet) if self.preset else base
        return self._apply(spec).check()

    def choose(
        self, own: TransformSpec, origin: TransformOrigin, imagenet: TransformSpec | None = None
    ) -> tuple[TransformSpec, TransformOrigin]:
        """This choice over a model's ``own`` preprocessing (which came from ``origin``): the
        spec to use and a "user" origin that says what the model had."""
        spec = self.resolve(own, imagenet)
        if spec.to_dict() == own.to_dict():
            return spec, TransformOrigin("user", f"{self.describe()}, the same as {origin.lead}")
        return spec, TransformOrigin(
            "user", f"{self.describe()}, instead of {own.describe()} ({origin.lead})"
        )

    def _apply(self, spec: TransformSpec) -> TransformSpec:
        changes = self.changes
        if changes.get("resize_mode") == "letterbox" and "resize" not in changes:
            changes["resize"] = changes.get("crop", spec.crop)
        return replace(spec, **changes, label="custom") if changes else spec

    def describe(self) -> str:
        """What was asked, in words ("preset classification-pytorch, crop 192")."""
        parts = [f"preset {self.preset}"] if self.preset else []
        parts += [f"{k.replace('_', ' ')} {_plain(v)}" for k, v in self.changes.items()]
        return ", ".join(parts) or "nothing"


def _plain(value) -> str:
    if isinstance(value, tuple):
        return ",".join(_num(v) if isinstance(v, float) else str(v) for v in value)
    return str(value)
