"""Find images in folders, decode them robustly, preprocess exactly like torchvision, thumbnail.

* :func:`iter_image_files` streams candidates (files with an extension Pillow can read) in a
  stable natural order, one directory at a time, so the first results arrive long before a big
  folder is fully listed. Hidden files/folders are skipped, symlink loops and duplicates too.
* :func:`load_image` trusts the content, not the extension; returns an RGB image with EXIF
  orientation applied and every odd mode converted properly; any failure is an
  :class:`ImageLoadError` whose message is the reason a person reads.
* :func:`preprocess` is numerically identical to torchvision's eval transform.
"""

from __future__ import annotations

import logging
import os
import re
import stat
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError
from torchvision.transforms import InterpolationMode
from torchvision.transforms import functional as TF

from .errors import ImageLoadError
from .models.archs import TransformSpec
from .pillow_setup import quiet_pillow
from .tasks import StopFlag, stop_requested

log = logging.getLogger(__name__)
quiet_pillow()  # Pillow's and libtiff's warnings off the terminal; MAX_PIXELS is enforced here

# Formats Pillow registers but cannot decode pixels of (stub plugins, MPEG identifies only): a
# video or a weather file in a photo folder is not an image candidate.
_UNDECODABLE = {"BUFR", "GRIB", "HDF5", "MPEG", "FITSSTUB"}


def _readable_extensions() -> frozenset[str]:
    Image.init()
    exts = set()
    for ext, fmt in Image.registered_extensions().items():
        factory = Image.OPEN.get(fmt)
        if factory is None or fmt in _UNDECODABLE:
            continue
        cls = factory[0] if isinstance(factory, tuple) else factory
        if isinstance(cls, type) and issubclass(cls, ImageFile.StubImageFile):
            continue
        exts.add(ext.lower())
    return frozenset(exts)


#: Every extension (lower-case, with the dot) whose files Pillow can decode.
IMAGE_EXTENSIONS: frozenset[str] = _readable_extensions()

# ---------------------------------------------------------------------------------------------
# Finding images


@dataclass(slots=True)
class ScanStats:
    found: int = 0  # image candidates yielded
    ignored: int = 0  # non-image files
    hidden: int = 0  # hidden files and folders skipped
    duplicates: int = 0  # same file reached twice (symlinks, a path given twice, loops)
    errors: list[str] = field(default_factory=list)  # unreadable folders, missing paths


_DIGITS = re.compile(r"(\d+)")


def natural_key(name: str) -> tuple:
    """'img2' before 'img10', case-insensitive, ties broken by the exact name."""
    parts = _DIGITS.split(name.casefold())
    return (tuple(int(p) if i % 2 else p for i, p in enumerate(parts)), name)


def is_image_name(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def _is_hidden(entry: os.DirEntry) -> bool:
    if entry.name.startswith("."):
        return True
    if os.name == "nt":
        try:
            attrs = entry.stat(follow_symlinks=False).st_file_attributes
            return bool(attrs & (stat.FILE_ATTRIBUTE_HIDDEN | stat.FILE_ATTRIBUTE_SYSTEM))
        except (OSError, AttributeError):
            return False
    return False


def iter_image_files(
    paths: Iterable[str | os.PathLike] | str | os.PathLike,
    stats: ScanStats | None = None,
    should_stop: StopFlag = None,
) -> Iterator[Path]:
    """Yield image candidates under ``paths`` (files and folders, recursive), streaming.

    Order: the arguments in the order given; inside a folder, entries in natural order and
    each subfolder listed where its name sorts (so the order equals a natural sort of relative
    paths). Symlinks are followed, but a folder is never entered twice and a file never
    yielded twice (compared by real path: hard links are distinct files).
    """
    stats = stats if stats is not None else ScanStats()
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    seen_files: set[str] = set()
    seen_dirs: set[tuple[int, int]] = set()

    def claim_file(real: str) -> bool:
        if real in seen_files:
            stats.duplicates += 1
            return False
        seen_files.add(real)
        return True

    for raw in paths:
        if stop_requested(should_stop):
            return
        root = Path(raw)
        try:
            st = root.stat()
        except FileNotFoundError:
            stats.errors.append(f"{root}: no such file or folder")
            continue
        except OSError as e:
            stats.errors.append(f"{root}: {e.strerror or e}")
            continue
        if stat.S_ISDIR(st.st_mode):
            yield from _walk(root, st, stats, should_stop, claim_file, seen_dirs)
        elif is_image_name(root.name):
            if claim_file(os.path.realpath(root)):
                stats.found += 1
                yield root
        else:
            stats.ignored += 1


def _sorted_entries(folder: Path, stats: ScanStats) -> list[os.DirEntry]:
    try:
        with os.scandir(folder) as it:
            entries = list(it)
    except OSError as e:
        stats.errors.append(f"{folder}: cannot list folder ({e.strerror or e})")
        return []
    entries.sort(key=lambda e: natural_key(e.name))
    return entries


def _walk(root, root_stat, stats, should_stop, claim_file, seen_dirs) -> Iterator[Path]:
    key = (root_stat.st_dev, root_stat.st_ino)
    if key in seen_dirs:
        stats.duplicates += 1
        return
    seen_dirs.add(key)
    # A stack of (real folder path, iterator over its sorted entries): depth-first, streaming.
    stack = [(os.path.realpath(root), iter(_sorted_entries(root, stats)))]
    checked = 0
    while stack:
        real_dir, entries = stack[-1]
        entry = next(entries, None)
        if entry is None:
            stack.pop()
            continue
        checked += 1
        if checked % 256 == 0 and stop_requested(should_stop):
            return
        if _is_hidden(entry):
            stats.hidden += 1
            continue
        try:
            is_dir = entry.is_dir()
            is_file = not is_dir and entry.is_file()
        except OSError:
            is_dir = is_file = False
        if is_dir:
            try:
                st = entry.stat()
            except OSError as e:
                stats.errors.append(f"{entry.path}: {e.strerror or e}")
                continue
            key = (st.st_dev, st.st_ino)
            if key in seen_dirs:  # a symlink loop or a folder reached twice
                stats.duplicates += 1
                continue
            seen_dirs.add(key)
            if stop_requested(should_stop):
                return
            real = (
                os.path.realpath(entry.path)
                if entry.is_symlink()
                else f"{real_dir}{os.sep}{entry.name}"
            )
            stack.append((real, iter(_sorted_entries(Path(entry.path), stats))))
        elif is_file:
            if not is_image_name(entry.name):
                stats.ignored += 1
                continue
            real = (
                os.path.realpath(entry.path)
                if entry.is_symlink()
                else f"{real_dir}{os.sep}{entry.name}"
            )
            if claim_file(real):
                if stop_requested(should_stop):
                    return
                stats.found += 1
                yield Path(entry.path)
        else:  # broken symlink, socket, fifo...
            if is_image_name(entry.name) and entry.is_symlink():
                stats.errors.append(f"{entry.path}: broken link")
            else:
                stats.ignored += 1


# ---------------------------------------------------------------------------------------------
# Decoding


#: Above this many pixels, as decoded (a JPEG counts at its draft size), a file is a failed row
#: instead of a memory spike: Pillow's own hard limit (twice its warning limit), enforced here,
#: once, with a reason a person reads.
MAX_PIXELS = 178_956_970

# Modes Image.reduce() averages correctly (it refuses "P", "1", "I;16"; palette indices of "PA"
# must not be averaged).
_REDUCIBLE = {"L", "LA", "La", "RGB", "RGBA", "RGBa", "CMYK", "YCbCr", "I", "F"}


def load_image(path: str | os.PathLike, draft_size: int | None = None) -> Image.Image:
    """Decode ``path`` to an RGB image, EXIF orientation applied.

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
        with open(path, "rb") as fh:
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
        empty = _is_empty(path)
        raise ImageLoadError(
            "empty file (0 bytes)" if empty else "not an image, or an unsupported format"
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError, struct.error) as e:
        msg = str(e)
        if "truncated" in msg or isinstance(e, EOFError):
            reason = "truncated or incomplete image file"
        else:
            reason = f"corrupt image ({_first_line(e)})"
        raise ImageLoadError(reason) from None
    except MemoryError:
        raise ImageLoadError("not enough memory to decode this image") from None
    except Exception as e:  # a decoder's own failure, e.g. NotImplementedError on some .dds
        log.debug("unexpected error decoding %s", path, exc_info=True)
        raise ImageLoadError(f"cannot decode this file ({_first_line(e)})") from None
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
        raise ImageLoadError(f"cannot convert colour mode {img.mode} ({_first_line(e)})") from None


def _first_line(e: BaseException) -> str:
    """``Type: first line of the message`` (at most 200 characters), for a one-line reason."""
    lines = str(e).strip().splitlines()
    text = lines[0][:200] if lines else ""
    name = type(e).__name__
    if isinstance(e, OSError | SyntaxError | ValueError | struct.error):
        return text or name  # Pillow's own wording reads well on its own
    return f"{name}: {text}" if text else name


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

_INTERPOLATION = {
    "bilinear": InterpolationMode.BILINEAR,
    "bicubic": InterpolationMode.BICUBIC,
    "nearest": InterpolationMode.NEAREST,
    "nearest-exact": InterpolationMode.NEAREST_EXACT,
    "lanczos": InterpolationMode.LANCZOS,
    "box": InterpolationMode.BOX,
    "hamming": InterpolationMode.HAMMING,
}


def crop_uint8(img: Image.Image, spec: TransformSpec) -> torch.Tensor:
    """Resize + centre crop in Pillow, as torchvision does: (3, crop, crop) uint8.

    The pipeline ships these small uint8 crops between threads (4x less memory than float) and
    normalises a whole batch at once with :func:`normalize_batch`; same arithmetic, same bits.
    """
    interp = _INTERPOLATION.get(spec.interpolation, InterpolationMode.BILINEAR)
    img = TF.resize(img, [spec.resize], interpolation=interp, antialias=True)
    img = TF.center_crop(img, [spec.crop, spec.crop])
    if img.mode != "RGB":
        img = img.convert("RGB")
    return torch.from_numpy(np.array(img, dtype=np.uint8, copy=True)).permute(2, 0, 1).contiguous()


def normalize_batch(batch: torch.Tensor, spec: TransformSpec) -> torch.Tensor:
    """uint8 (..., 3, H, W) -> float32 normalised, exactly ToTensor() then Normalize()."""
    x = batch.to(torch.float32).div_(255)
    # The constants are made on the batch's device: a CPU tensor meeting a CUDA batch fails.
    mean = torch.tensor(spec.mean, dtype=torch.float32, device=x.device).view(-1, 1, 1)
    std = torch.tensor(spec.std, dtype=torch.float32, device=x.device).view(-1, 1, 1)
    return x.sub_(mean).div_(std)


def preprocess(img: Image.Image, spec: TransformSpec) -> torch.Tensor:
    """(3, crop, crop) float32, normalised; bit-identical to torchvision's
    ``Compose([Resize(resize, interpolation, antialias=True), CenterCrop(crop), ToTensor(),
    Normalize(mean, std)])``."""
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
