"""Decode images robustly, preprocess exactly like torchvision, make thumbnails.

(Finding the images in folders is core.data.listing's.)

* :func:`load_image` trusts the content, not the extension; returns an RGB image with EXIF
  orientation applied and every odd mode converted properly; any failure is an
  :class:`ImageLoadError` whose message is the reason a person reads.
* :func:`preprocess` applies a model's preprocessing (core.models.transforms); for the shorter-
  side rule it is numerically identical to torchvision's eval transform.
"""

from __future__ import annotations

import io
import logging
import os
import re
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torchvision.transforms import InterpolationMode
from torchvision.transforms import functional as TF

from ..errors import ImageLoadError, first_line
from ..models.transforms import TransformSpec
from .pillow_setup import quiet_pillow

log = logging.getLogger(__name__)
quiet_pillow()  # Pillow's and libtiff's warnings off the terminal; MAX_PIXELS is enforced here


# ---------------------------------------------------------------------------------------------
# Decoding


#: Above this many pixels, as decoded (a JPEG counts at its draft size), a file is a failed row
#: instead of a memory spike: Pillow's own hard limit (twice its warning limit), enforced here,
#: once, with a reason a person reads.
MAX_PIXELS = 178_956_970

# Modes Image.reduce() averages correctly (it refuses "P", "1", "I;16"; palette indices of "PA"
# must not be averaged).
_REDUCIBLE = {"L", "LA", "La", "RGB", "RGBA", "RGBa", "CMYK", "YCbCr", "I", "F"}


def load_image(
    path: str | os.PathLike, draft_size: int | None = None, data: bytes | None = None
) -> Image.Image:
    """Decode ``path`` (or, given, its bytes ``data``, read elsewhere: an object store) to an
    RGB image, EXIF orientation applied.

    ``draft_size``: the size the image will be resized to (shorter side). JPEGs at least 3x that
    are decoded at 1/2, 1/4 or 1/8 scale (Pillow draft mode), never below ``draft_size``; other
    images at least 4x that are box-reduced right after decoding, to at least twice
    ``draft_size``, so a huge image is held at full size once, never copied at full size.
    Raises :class:`ImageLoadError` with the reason (missing, unreadable, empty, not an image,
    truncated, over :data:`MAX_PIXELS`, a decoder's own failure...); the stack trace of an
    unexpected decoder exception goes to the log at debug level, never to the terminal.
    """
    path = Path(path)
    try:
        with open(path, "rb") if data is None else io.BytesIO(data) as fh:
            img = Image.open(fh)  # reads the header only; pixels come with load()
            drafted = False
            if draft_size and img.format == "JPEG" and min(img.size) >= 3 * draft_size:
                w, h = img.size
                scale = draft_size / min(w, h)
                img.draft(None, (max(1, int(w * scale)), max(1, int(h * scale))))
                drafted = True
            _check_size(img.size, draft_size)
            img.load()
    except ImageLoadError:
        raise
    except FileNotFoundError:
        raise ImageLoadError("file not found (moved or deleted since it was listed)") from None
    except PermissionError:
        raise ImageLoadError("permission denied") from None
    except IsADirectoryError:
        raise ImageLoadError("is a folder, not a file") from None
    except Image.DecompressionBombError as e:
        raise ImageLoadError(
            f"image too large to decode safely ({_bomb_pixels(e)}; limit {MAX_PIXELS:,} pixels)"
        ) from None
    except UnidentifiedImageError:
        empty = _is_empty(path) if data is None else not data
        raise ImageLoadError(
            "empty file (0 bytes)" if empty else "not an image, or an unsupported format"
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError, struct.error) as e:
        msg = str(e)
        if "truncated" in msg or isinstance(e, EOFError):
            reason = "truncated or incomplete image file"
        else:
            reason = f"corrupt image ({first_line(e)})"
        raise ImageLoadError(reason) from None
    except MemoryError:
        raise ImageLoadError("not enough memory to decode this image") from None
    except Exception as e:  # a decoder's own failure, e.g. NotImplementedError on some .dds
        log.debug("unexpected error decoding %s", path, exc_info=True)
        raise ImageLoadError(f"cannot decode this file ({_reason(e)})") from None
    try:
        img = _oriented(img)
        if not drafted:
            img = _reduced(img, draft_size)
        return to_rgb(img)
    except ImageLoadError:
        raise
    except MemoryError:
        raise ImageLoadError("not enough memory to decode this image") from None
    except Exception as e:  # an exotic mode Pillow cannot convert
        log.debug("cannot convert %s (mode %s)", path, img.mode, exc_info=True)
        raise ImageLoadError(f"cannot convert colour mode {img.mode} ({_reason(e)})") from None


def _reason(e: BaseException) -> str:
    """The first line of ``e``; with its type's name in front unless Pillow worded it."""
    pillow_worded = isinstance(e, OSError | SyntaxError | ValueError | struct.error)
    return first_line(e, typed=not pillow_worded)


def _check_size(size: tuple[int, int], draft_size: int | None) -> None:
    """Refuse, before any pixel is decoded, an image over :data:`MAX_PIXELS`, or one so
    elongated that resizing its shorter side to ``draft_size`` would exceed it."""
    w, h = size
    if w * h > MAX_PIXELS:
        raise ImageLoadError(
            f"image too large to decode safely ({w:,} x {h:,} = {w * h:,} pixels; "
            f"limit {MAX_PIXELS:,})"
        )
    if (
        draft_size
        and min(w, h) > 0
        and draft_size * draft_size * max(w, h) / min(w, h) > MAX_PIXELS
    ):
        raise ImageLoadError(
            f"image too elongated to resize safely ({w:,} x {h:,}: resized, it would exceed "
            f"{MAX_PIXELS:,} pixels)"
        )


def _reduced(img: Image.Image, draft_size: int | None) -> Image.Image:
    """A big image box-reduced by a whole factor, shorter side still >= 2 x ``draft_size``;
    the full-size one is dropped as soon as the small one exists."""
    if not draft_size:
        return img
    factor = min(img.size) // (2 * draft_size)
    if factor < 2:
        return img
    if img.mode not in _REDUCIBLE:
        img = to_rgb(img)  # the one full-size copy (palette, 1-bit, 16-bit modes)
    return img.reduce(factor)


def _bomb_pixels(e: Exception) -> str:
    m = re.search(r"\((\d+) pixels\)", str(e))
    return f"{int(m.group(1)):,} pixels" if m else "too many pixels"


def _is_empty(path: Path) -> bool:
    try:
        return path.stat().st_size == 0
    except OSError:
        return False


def _oriented(img: Image.Image) -> Image.Image:
    """``img`` turned as its EXIF says, in place: no copy at all when it is upright."""
    try:
        ImageOps.exif_transpose(img, in_place=True)
    except Exception:  # broken EXIF: keep the pixels as stored
        log.debug("ignoring unreadable EXIF orientation", exc_info=True)
    return img


def _on_white(img: Image.Image) -> Image.Image:
    rgba = img if img.mode == "RGBA" else img.convert("RGBA")  # convert() would copy an RGBA
    on_white = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    del rgba  # a converted copy goes before the last conversion: one image less at the peak
    return on_white.convert("RGB")


def to_rgb(img: Image.Image) -> Image.Image:
    """Convert any Pillow mode to 8-bit RGB: transparency composited onto white, 16-bit and
    32-bit data scaled to 0-255 (not clipped), CMYK through its ICC profile when it has one."""
    mode = img.mode
    if mode == "RGB":
        return img
    if mode in ("RGBA", "LA", "La", "RGBa", "PA"):
        return _on_white(img)
    if mode == "P":
        if "transparency" in img.info:
            return _on_white(img)
        return img.convert("RGB")
    if mode == "CMYK":
        return _cmyk_to_rgb(img)
    if mode.startswith("I;16") or mode in ("I", "F"):
        return _high_depth_to_rgb(img)
    return img.convert("RGB")  # 1, L, YCbCr, LAB, HSV...


def _cmyk_to_rgb(img: Image.Image) -> Image.Image:
    icc = img.info.get("icc_profile")
    if icc:
        try:
            import io

            from PIL import ImageCms

            src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            dst = ImageCms.createProfile("sRGB")
            return ImageCms.profileToProfile(img, src, dst, outputMode="RGB")
        except Exception:
            log.debug("CMYK ICC conversion failed; using the plain formula", exc_info=True)
    return img.convert("RGB")


def _high_depth_to_rgb(img: Image.Image) -> Image.Image:
    arr = np.asarray(img).astype(np.float64)
    if img.mode.startswith("I;16"):
        arr = arr / 257.0
    elif img.mode == "I":
        hi = float(arr.max()) if arr.size else 0.0
        lo = float(arr.min()) if arr.size else 0.0
        if lo >= 0 and hi <= 255:
            pass
        elif lo >= 0 and hi <= 65535:
            arr = arr / 257.0  # 16-bit data carried in a 32-bit mode (most 16-bit PNG/TIFF)
        else:
            arr = (arr - lo) / max(hi - lo, 1e-12) * 255.0
    else:  # "F": floats, 0-1 or arbitrary range
        finite = arr[np.isfinite(arr)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        scale = (0.0, 1.0) if lo >= 0 and hi <= 1.0 else (lo, max(hi - lo, 1e-12))
        arr = np.nan_to_num((arr - scale[0]) / scale[1] * 255.0)
    grey = Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8), "L")
    return grey.convert("RGB")


# ---------------------------------------------------------------------------------------------
# Preprocessing and thumbnails

#: Interpolation names (a TransformSpec's) -> torchvision's modes.
INTERPOLATIONS = {
    "bilinear": InterpolationMode.BILINEAR,
    "bicubic": InterpolationMode.BICUBIC,
    "nearest": InterpolationMode.NEAREST,
    "nearest-exact": InterpolationMode.NEAREST_EXACT,
    "lanczos": InterpolationMode.LANCZOS,
    "box": InterpolationMode.BOX,
    "hamming": InterpolationMode.HAMMING,
}


def letterbox_geometry(width: int, height: int, canvas: int) -> tuple[int, int, int, int]:
    """(new width, new height, left, top) of an image fitted inside a square canvas, aspect
    kept, centred: the arithmetic of classification-pytorch's ``letterbox_image`` (sizes
    truncated, offsets floored), never below one pixel."""
    scale = min(canvas / width, canvas / height)
    new_w, new_h = max(1, int(width * scale)), max(1, int(height * scale))
    return new_w, new_h, (canvas - new_w) // 2, (canvas - new_h) // 2


def letterbox(img: Image.Image, spec: TransformSpec) -> Image.Image:
    """``img`` resized to fit a ``spec.resize`` square (``spec.interpolation``) and pasted in
    the middle of a canvas of ``spec.fill``."""
    new_w, new_h, left, top = letterbox_geometry(img.width, img.height, spec.resize)
    interp = INTERPOLATIONS.get(spec.interpolation, InterpolationMode.BILINEAR)
    small = TF.resize(img, [new_h, new_w], interpolation=interp, antialias=True)
    canvas = Image.new("RGB", (spec.resize, spec.resize), tuple(spec.fill))
    canvas.paste(small, (left, top))
    return canvas


def resize_for(img: Image.Image, spec: TransformSpec) -> Image.Image:
    """``img`` after the spec's resize rule (before the centre crop), in Pillow."""
    if spec.resize_mode == "letterbox":
        return letterbox(img, spec)
    interp = INTERPOLATIONS.get(spec.interpolation, InterpolationMode.BILINEAR)
    size = [spec.resize, spec.resize] if spec.resize_mode == "exact" else [spec.resize]
    return TF.resize(img, size, interpolation=interp, antialias=True)


def crop_uint8(img: Image.Image, spec: TransformSpec) -> torch.Tensor:
    """Resize (the spec's rule) + centre crop in Pillow, as torchvision does: (3, crop, crop)
    uint8, RGB (a BGR model's channels are swapped by :func:`normalize_batch`).

    The pipeline ships these small uint8 crops between threads (4x less memory than float) and
    normalises a whole batch at once with :func:`normalize_batch`; same arithmetic, same bits.
    """
    img = TF.center_crop(resize_for(img, spec), [spec.crop, spec.crop])
    if img.mode != "RGB":
        img = img.convert("RGB")
    return torch.from_numpy(np.array(img, dtype=np.uint8, copy=True)).permute(2, 0, 1).contiguous()


def normalize_batch(batch: torch.Tensor, spec: TransformSpec) -> torch.Tensor:
    """uint8 (..., 3, H, W) RGB -> float32 model input: channels in the spec's order, then
    ``(x / 255 - mean) / std``; for RGB exactly ToTensor() then Normalize()."""
    if spec.channels == "BGR":
        batch = batch.flip(-3)
    x = batch.to(torch.float32).div_(255)
    # The constants are made on the batch's device: a CPU tensor meeting a CUDA batch fails.
    mean = torch.tensor(spec.mean, dtype=torch.float32, device=x.device).view(-1, 1, 1)
    std = torch.tensor(spec.std, dtype=torch.float32, device=x.device).view(-1, 1, 1)
    return x.sub_(mean).div_(std)


def preprocess(img: Image.Image, spec: TransformSpec) -> torch.Tensor:
    """(3, crop, crop) float32, the model's input; with the shorter-side rule bit-identical to
    torchvision's ``Compose([Resize(resize, interpolation, antialias=True), CenterCrop(crop),
    ToTensor(), Normalize(mean, std)])``."""
    return normalize_batch(crop_uint8(img, spec), spec)


@dataclass(frozen=True, slots=True)
class Thumbnail:
    """RGB888 pixels, rows packed with no padding (``QImage(data, w, h, 3*w, Format_RGB888)``)."""

    width: int
    height: int
    data: bytes


def make_thumbnail(img: Image.Image, max_side: int = 160) -> Thumbnail:
    """A small copy of an already decoded RGB image, longest side ``max_side``."""
    w, h = img.size
    scale = min(1.0, max_side / max(w, h, 1))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = (
        img if size == img.size else img.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    )
    if small.mode != "RGB":
        small = small.convert("RGB")
    return Thumbnail(small.width, small.height, small.tobytes())
