"""The preprocessing options of `predict`, `train` and `bench`: ``--preprocess PRESET`` and
single settings (``--resize``, ``--crop``, ``--letterbox``, ``--mean``...). :func:`choice`
turns them into the PreprocessingOverride a ModelSource carries; every bad value is a one-line
error naming its option, raised before anything loads. (No torch here: argument errors stay
fast.)"""

from __future__ import annotations

import argparse
import math
import re

from pigeonhole.core.errors import PigeonholeError, PreprocessingError
from pigeonhole.core.models.transforms import (
    CHANNEL_ORDERS,
    INTERPOLATION_NAMES,
    MAX_SIZE,
    PreprocessingOverride,
    TransformSpec,
    preset_names,
)

#: Options whose value may start with a minus ("--range -1,1"): the CLI attaches it for argparse.
NUMBER_LIST_OPTIONS = ("--range", "--mean", "--std")
_RESIZE = re.compile(r"^\s*(\d+)\s*(?:[xX]\s*(\d+))?\s*$")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The preprocessing options, as one group of ``parser``'s help."""
    g = parser.add_argument_group(
        "preprocessing",
        "default: what the checkpoint (or its folder) states, or a recognised convention, "
        "else ImageNet's recipe; the first line printed says which and why",
    )
    g.add_argument("--preprocess", metavar="PRESET", help=f"one of: {', '.join(preset_names())}")
    g.add_argument("--resize", metavar="N|NxN", help="shorter side to N, or stretch to NxN")
    g.add_argument("--crop", metavar="N", help="centre crop size")
    g.add_argument(
        "--letterbox",
        action="store_true",
        help="fit the whole image on a square canvas (--resize, else the crop size) instead",
    )
    g.add_argument("--fill", metavar="R,G,B", help="letterbox canvas colour (0-255 each)")
    g.add_argument("--mean", metavar="R,G,B", help="per-channel mean of pixels in 0-1")
    g.add_argument("--std", metavar="R,G,B", help="per-channel std of pixels in 0-1")
    g.add_argument(
        "--range", metavar="LOW,HIGH", help="scale pixels linearly instead, e.g. -1,1 (x/127.5-1)"
    )
    g.add_argument("--interpolation", metavar="NAME", help=", ".join(INTERPOLATION_NAMES))
    g.add_argument("--channels", metavar="RGB|BGR", help="channel order the model expects")


def choice(args: argparse.Namespace) -> PreprocessingOverride | None:
    """The user's preprocessing choice from the parsed options; None when none was given."""
    given = {
        k: getattr(args, k, None)
        for k in (
            "preprocess",
            "resize",
            "crop",
            "fill",
            "mean",
            "std",
            "range",
            "interpolation",
            "channels",
        )
    }
    letterbox = bool(getattr(args, "letterbox", False))
    if not letterbox and all(v is None for v in given.values()):
        return None
    fields: dict = {}
    if given["preprocess"] is not None:
        name = given["preprocess"].strip().lower()
        if name not in preset_names():
            raise PigeonholeError(
                f"--preprocess: unknown preset '{given['preprocess']}'; use "
                f"{', '.join(preset_names())}."
            )
        fields["preset"] = name
    if given["resize"] is not None:
        fields["resize"], exact = _resize(given["resize"])
        if exact:
            fields["resize_mode"] = "exact"
    if given["crop"] is not None:
        fields["crop"] = _size("--crop", given["crop"])
    if letterbox:
        if fields.get("resize_mode") == "exact":
            raise PigeonholeError("--letterbox and --resize NxN are two resize rules: choose one.")
        fields["resize_mode"] = "letterbox"
    if given["fill"] is not None:
        colour = _numbers("--fill", given["fill"], 3, "R,G,B")
        if not all(0 <= c <= 255 and c.is_integer() for c in colour):
            raise PigeonholeError(f"--fill: each colour must be 0-255 (got '{given['fill']}').")
        fields["fill"] = tuple(int(c) for c in colour)
    _scaling(given, fields)
    if given["interpolation"] is not None:
        name = given["interpolation"].strip().lower()
        if name not in INTERPOLATION_NAMES:
            raise PigeonholeError(
                f"--interpolation: unknown '{name}'; use {', '.join(INTERPOLATION_NAMES)}."
            )
        fields["interpolation"] = name
    if given["channels"] is not None:
        order = given["channels"].strip().upper()
        if order not in CHANNEL_ORDERS:
            raise PigeonholeError(f"--channels must be RGB or BGR (got '{given['channels']}').")
        fields["channels"] = order
    if "crop" in fields and "resize" in fields and fields["crop"] > fields["resize"]:
        raise PigeonholeError(
            f"--crop {fields['crop']} is larger than --resize {fields['resize']}: the crop "
            "must fit in the resized image."
        )
    try:
        return PreprocessingOverride(**fields)
    except PreprocessingError as e:
        raise PigeonholeError(str(e)) from None


def _scaling(given: dict, fields: dict) -> None:
    if given["range"] is not None:
        if given["mean"] is not None or given["std"] is not None:
            raise PigeonholeError("--range replaces --mean/--std: give one or the other.")
        low, high = _numbers("--range", given["range"], 2, "LOW,HIGH", repeat=False)
        if not high > low:
            raise PigeonholeError(f"--range: LOW must be below HIGH (got '{given['range']}').")
        spec = TransformSpec.scaled_to(low, high)
        fields["mean"], fields["std"] = spec.mean, spec.std
        return
    if given["mean"] is not None:
        fields["mean"] = _numbers("--mean", given["mean"], 3, "R,G,B")
    if given["std"] is not None:
        fields["std"] = _numbers("--std", given["std"], 3, "R,G,B")
        if not all(s > 0 for s in fields["std"]):
            raise PigeonholeError(f"--std: every value must be above 0 (got '{given['std']}').")


def _resize(text: str) -> tuple[int, bool]:
    """(size, exact) from "256" (shorter side) or "256x256" (stretched)."""
    m = _RESIZE.match(str(text))
    if m is None:
        raise PigeonholeError(f"--resize takes N or NxN (got '{text}').")
    if m.group(2) is not None and m.group(1) != m.group(2):
        raise PigeonholeError(f"--resize: only square sizes NxN are supported (got '{text}').")
    return _size("--resize", m.group(1)), m.group(2) is not None


def _size(option: str, text: str) -> int:
    try:
        value = int(str(text).strip())
    except ValueError:
        raise PigeonholeError(f"{option} takes a whole number of pixels (got '{text}').") from None
    if not 1 <= value <= MAX_SIZE:
        raise PigeonholeError(f"{option} must be 1 to {MAX_SIZE} pixels (got {value}).")
    return value


def _numbers(option: str, text: str, count: int, form: str, repeat: bool = True) -> tuple:
    """``count`` comma-separated finite numbers (one number stands for all when ``repeat``)."""
    try:
        values = [float(v) for v in str(text).split(",")]
    except ValueError:
        values = []
    if repeat and len(values) == 1:
        values *= count
    if len(values) != count or not all(math.isfinite(v) for v in values):
        raise PigeonholeError(
            f"{option} takes {count} numbers separated by commas ({form}), got '{text}'."
        )
    return tuple(values)
