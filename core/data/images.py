"""Decode images robustly: every format Pillow and its plugins read, content over extension,
EXIF orientation, odd modes converted properly. (Finding the images in folders is
core.data.listing's; a model's preprocessing and thumbnails are core.data.preprocessing's.)

* :func:`load_image` trusts the content, not the extension; returns an RGB image with EXIF
  orientation applied and every odd mode converted properly; any failure is an
  :class:`ImageLoadError` whose message is the reason a person reads.
"""

from __future__ import annotations

import logging
import math
import os
import re
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import ImageLoadError, first_line
from .formats import RAW_EXTENSIONS, load_raw, register_readers
from .listing import image_signature
from .pillow_setup import quiet_pillow

log = logging.getLogger(__name__)
quiet_pillow()  # Pillow's and libtiff's warnings off the terminal; MAX_PIXELS is enforced here
register_readers()  # HEIC/HEIF (pillow-heif), JPEG XL when installed


#: Above this many pixels, as decoded (a JPEG counts at its draft size), a file is a failed row
#: instead of a memory spike: Pillow's own hard limit (twice its warning limit), enforced here,
#: once, with a reason a person reads.
MAX_PIXELS = 178_956_970

# Modes Image.reduce() averages correctly (it refuses "P", "1", "I;16"; palette indices of "PA"
# must not be averaged).
_REDUCIBLE = {"L", "LA", "La", "RGB", "RGBA", "RGBa", "CMYK", "YCbCr", "I", "F"}


@dataclass(frozen=True, slots=True)
class DecodedImage:
    """A decoded file: the RGB image, upright, and what the run reports about it."""

    image: Image.Image
    format: str  # Pillow's format name ("JPEG", "HEIF", "PNG"...), or "RAW"
    multi_frame: bool = False  # an animation or a multi-page file: its first frame is here
    how: str = ""  # RAW: "preview" (the embedded JPEG) or "demosaic" (half size)


def load_image(path: str | os.PathLike, draft_size: int | None = None) -> Image.Image:
    """Decode ``path`` to an RGB image, EXIF orientation applied (:func:`decode_image`'s
    image).

    ``draft_size``: the size the image will be resized to (shorter side). JPEGs at least 3x that
    are decoded at 1/2, 1/4 or 1/8 scale (Pillow draft mode), never below ``draft_size``; a
    HEIC whose stored thumbnail is a scaled copy at least that large decodes the thumbnail;
    other images at least 4x that are box-reduced right after decoding, to at least twice
    ``draft_size``, so a huge image is held at full size once, never copied at full size.
    Raises :class:`ImageLoadError` with the reason (missing, unreadable, empty, not an image,
    truncated, over :data:`MAX_PIXELS`, a decoder's own failure...); the stack trace of an
    unexpected decoder exception goes to the log at debug level, never to the terminal.
    """
    return decode_image(path, draft_size).image


def decode_image(path: str | os.PathLike, draft_size: int | None = None) -> DecodedImage:
    """:func:`load_image`, saying also the format, whether the file had several frames (the
    first is decoded) and how a camera RAW file was read. Content decides, not the name: a
    RAW extension goes to LibRaw first, and to Pillow if LibRaw says it is no RAW file."""
    path = Path(path)
    if path.suffix.lower() in RAW_EXTENSIONS:
        decoded = _decode_raw(path, draft_size)
        if decoded is not None:
            return decoded
    try:
        with open(path, "rb") as fh:
            img = Image.open(fh)  # reads the header only; pixels come with load()
            drafted = _draft(img, draft_size)
            _check_size(img.size, draft_size)
            fmt = img.format or ""
            multi = fmt not in _NOT_MULTI_FRAME and bool(getattr(img, "is_animated", False))
            img.load()
    except ImageLoadError:
        raise
    except Exception as e:
        raise ImageLoadError(_reason(e, path)) from None
    return DecodedImage(_finished(img, path, None if drafted else draft_size), fmt, multi)


# MPO: a JPEG with extra pictures (a depth map, a large preview), not frames of one image.
_NOT_MULTI_FRAME = {"MPO"}


def _draft(img: Image.Image, draft_size: int | None) -> bool:
    """Ask the decoder for less than the full image (JPEG: a DCT scale; HEIF: a stored
    thumbnail that is a scaled copy), never below ``draft_size`` on the shorter side."""
    if not draft_size or img.format not in ("JPEG", "HEIF") or min(img.size) < draft_size:
        return False
    if img.format == "JPEG" and min(img.size) < 3 * draft_size:
        return False
    w, h = img.size
    scale = draft_size / min(w, h)
    target = (max(1, math.ceil(w * scale)), max(1, math.ceil(h * scale)))
    return img.draft(None, target) is not None


def _finished(img: Image.Image, path: Path, reduce_to: int | None) -> Image.Image:
    """Upright, reduced when huge, RGB."""
    try:
        img = _oriented(img)
        img = _reduced(img, reduce_to)
        return to_rgb(img)
    except ImageLoadError:
        raise
    except MemoryError:
        raise ImageLoadError("not enough memory to decode this image") from None
    except Exception as e:  # an exotic mode Pillow cannot convert
        log.debug("cannot convert %s (mode %s)", path, img.mode, exc_info=True)
        raise ImageLoadError(f"cannot convert colour mode {img.mode} ({_reason(e)})") from None


def _decode_raw(path: Path, draft_size: int | None) -> DecodedImage | None:
    """A camera RAW file through LibRaw; None when LibRaw says it is not a RAW file."""
    try:
        img, how = load_raw(path, draft_size)
    except ImportError:
        raise ImageLoadError(
            'a camera RAW file: reading it needs pip install "pigeonhole[raw]"'
        ) from None
    except Exception as e:
        kind = type(e).__name__
        if kind == "LibRawFileUnsupportedError":
            return None  # perhaps a JPEG or TIFF with a RAW name: Pillow decides
        if kind.startswith("LibRaw"):
            reason = (
                "truncated or incomplete RAW file"
                if kind == "LibRawIOError" and not _is_empty(path)
                else f"corrupt RAW file ({_first_line(e)})"
            )
            raise ImageLoadError(_reason(e, path) if _is_empty(path) else reason) from None
        raise ImageLoadError(_reason(e, path)) from None
    return DecodedImage(_finished(img, path, draft_size), "RAW", False, how)


def _reason(e: BaseException, path: Path) -> str:
    """The reason a person reads for an exception raised while opening or decoding."""
    if isinstance(e, FileNotFoundError):
        return "file not found (moved or deleted since it was listed)"
    if isinstance(e, PermissionError):
        return "permission denied"
    if isinstance(e, IsADirectoryError):
        return "is a folder, not a file"
    if _is_empty(path):
        return "empty file (0 bytes)"
    if isinstance(e, Image.DecompressionBombError):
        return f"image too large to decode safely ({_bomb_pixels(e)}; limit {MAX_PIXELS:,} pixels)"
    if isinstance(e, UnidentifiedImageError):
        fmt = image_signature(path)  # it starts like an image, and then does not go on like one
        return (
            f"damaged or incomplete {fmt} file" if fmt else "not an image, or an unsupported format"
        )
    if isinstance(e, MemoryError):
        return "not enough memory to decode this image"
    if isinstance(e, OSError | SyntaxError | ValueError | EOFError | struct.error):
        if "truncated" in str(e) or "end of file" in str(e).lower() or isinstance(e, EOFError):
            return "truncated or incomplete image file"
        return f"corrupt image ({_first_line(e)})"
    # A decoder's own failure, e.g. NotImplementedError on some .dds, or a plugin's.
    log.debug("unexpected error decoding %s", path, exc_info=(type(e), e, e.__traceback__))
    return f"cannot decode this file ({_first_line(e)})"


def _first_line(e: BaseException) -> str:
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
