"""The formats people have, and the readers for them.

Pillow reads JPEG, PNG, TIFF, GIF, BMP, WebP and (from 11.2) AVIF itself. This module adds:

* **HEIC/HEIF** (iPhones' default) through pillow-heif, registered as a Pillow plugin: a plain
  dependency. Its ``draft()`` decodes a stored thumbnail instead of the image when the
  thumbnail is a scaled copy at least as large as asked (core.data.images asks for the model's
  resize size, so labels do not change).
* **JPEG XL** through pillow-jxl-plugin, when installed (``pip install "pigeonhole[jxl]"``).
* **Camera RAW** (.CR2, .CR3, .NEF, .ARW, .DNG...) through rawpy (LibRaw), when installed
  (``pip install "pigeonhole[raw]"``): :func:`load_raw` takes the embedded JPEG preview when
  its shorter side is at least the size the image will be resized to (or as large as a
  half-size demosaic would be), else a half-size demosaic; either way turned upright as the
  camera recorded.

It also names the files that are not images (videos, edit sidecars, documents...) so the
listing can say what it skipped, and which formats need a reader that is not installed.
"""

from __future__ import annotations

import importlib.util
import io
import logging
import os
from dataclasses import dataclass

from PIL import Image, ImageOps

log = logging.getLogger(__name__)

_registered = False


def register_readers() -> None:
    """Register the optional Pillow plugins that are installed (idempotent; called when
    core.data.images and core.data.listing are imported)."""
    global _registered
    if _registered:
        return
    _registered = True
    try:
        import pillow_heif
    except ImportError:
        log.info("pillow-heif is not installed: HEIC/HEIF photos cannot be read")
    else:
        # Depth maps and auxiliary images are never classified: not reading them is faster.
        pillow_heif.register_heif_opener(depth_images=False, aux_images=False)
    if importlib.util.find_spec("pillow_jxl") is not None:
        try:
            import pillow_jxl  # noqa: F401  (registers the JPEG XL plugin on import)
        except ImportError as e:
            log.info("pillow-jxl-plugin is installed but cannot be loaded: %s", e)


#: Camera RAW extensions (LibRaw reads all of these).
RAW_EXTENSIONS = frozenset(
    [
        ".3fr",
        ".ari",
        ".arw",
        ".bay",
        ".cr2",
        ".cr3",
        ".crw",
        ".dcr",
        ".dng",
        ".erf",
        ".fff",
        ".iiq",
        ".k25",
        ".kdc",
        ".mef",
        ".mos",
        ".mrw",
        ".nef",
        ".nrw",
        ".orf",
        ".ori",
        ".pef",
        ".raf",
        ".rw2",
        ".rwl",
        ".sr2",
        ".srf",
        ".srw",
        ".x3f",
    ]
)
HEIF_EXTENSIONS = frozenset({".heic", ".heif", ".hif", ".heics", ".heifs"})
JXL_EXTENSIONS = frozenset({".jxl"})
AVIF_EXTENSIONS = frozenset({".avif", ".avifs"})


def raw_available() -> bool:
    """Whether rawpy (LibRaw) is importable: camera RAW files can be read."""
    return importlib.util.find_spec("rawpy") is not None


@dataclass(frozen=True, slots=True)
class SkipReason:
    """Why a file is not classified, as a person reads it: ``count`` ``noun``/``plural`` (the
    extensions) skipped, and what reading them needs when a reader is missing. ``quiet``
    ones (hidden files, macOS resource forks) are counted but not listed one line each."""

    key: str
    noun: str
    plural: str
    needs: str = ""  # what to install to read them
    quiet: bool = False

    @property
    def label(self) -> str:
        """One file's reason: ``"video"``, ``'RAW file (reading it needs pip install ...)'``."""
        return f"{self.noun} (reading it needs {self.needs})" if self.needs else self.noun

    def describe(self, count: int, extensions: list[str] | tuple[str, ...] = ()) -> str:
        """``"12 videos (.MOV) skipped"``."""
        name = self.noun if count == 1 else self.plural
        exts = f" ({', '.join(extensions)})" if extensions else ""
        needs = (
            f": reading {'it' if count == 1 else 'them'} needs {self.needs}" if self.needs else ""
        )
        return f"{count:,} {name}{exts} skipped{needs}"


#: Every reason a file is skipped, in the order summaries list them.
SKIP_REASONS: dict[str, SkipReason] = {
    r.key: r
    for r in (
        SkipReason("raw", "RAW file", "RAW files", needs='pip install "pigeonhole[raw]"'),
        SkipReason("heif", "HEIC/HEIF photo", "HEIC/HEIF photos", needs="pip install pillow-heif"),
        SkipReason("jxl", "JPEG XL image", "JPEG XL images", needs='pip install "pigeonhole[jxl]"'),
        SkipReason("avif", "AVIF image", "AVIF images", needs="Pillow 11.2 or newer"),
        SkipReason("video", "video", "videos"),
        SkipReason("sidecar", "edit sidecar", "edit sidecars"),
        SkipReason("audio", "audio file", "audio files"),
        SkipReason("document", "document", "documents"),
        SkipReason("archive", "archive", "archives"),
        SkipReason("other", "file that is not an image", "files that are not images"),
        SkipReason("hidden", "hidden file or folder", "hidden files and folders", quiet=True),
        SkipReason("fork", "macOS resource fork (._)", "macOS resource forks (._)", quiet=True),
    )
}

_KNOWN_NOT_IMAGES = {
    "video": ".3g2 .3gp .asf .avi .divx .f4v .flv .m2t .m2ts .m4v .mkv .mod .mov .mp4 .mpeg "
    ".mpg .mts .mxf .ogv .qt .rm .tod .ts .vob .webm .wmv .insv .lrv",
    "sidecar": ".aae .xmp .dop .pp3 .on1 .cos .lrcat .acr .exv",
    "audio": ".aac .aif .aiff .amr .caf .flac .m4a .mp3 .ogg .opus .wav .wma",
    "document": ".csv .doc .docx .htm .html .json .key .md .numbers .odp .ods .odt .pages "
    ".pdf .ppt .pptx .rtf .txt .xls .xlsx .xml .yaml .yml .log",
    "archive": ".7z .bz2 .gz .rar .tar .tgz .xz .zip .zst",
}
#: extension -> reason key, for files that are certainly not images (no content sniffing).
NOT_IMAGE_EXTENSIONS: dict[str, str] = {
    ext: key for key, exts in _KNOWN_NOT_IMAGES.items() for ext in exts.split()
}


def missing_reader(ext: str) -> str | None:
    """The reason key when ``ext`` is an image format whose reader is not installed."""
    ext = ext.lower()
    if ext in RAW_EXTENSIONS and not raw_available():
        return "raw"
    registered = Image.registered_extensions()
    if ext in HEIF_EXTENSIONS and ext not in registered:
        return "heif"
    if ext in JXL_EXTENSIONS and ext not in registered:
        return "jxl"
    if ext in AVIF_EXTENSIONS and ext not in registered:
        return "avif"
    return None


# ---------------------------------------------------------------------------------------------
# Camera RAW

#: Without a target size, the embedded preview serves when its shorter side is at least this.
RAW_PREVIEW_MIN = 1024
# LibRaw's flip -> the Pillow transposition that turns the preview upright.
_FLIPS = {
    3: Image.Transpose.ROTATE_180,
    5: Image.Transpose.ROTATE_90,
    6: Image.Transpose.ROTATE_270,
}


def load_raw(path: str | os.PathLike, draft_size: int | None) -> tuple[Image.Image, str]:
    """A camera RAW file as an upright Pillow image, and how it was read (``"preview"`` or
    ``"demosaic"``). Raises rawpy's errors (the caller turns them into a reason) and
    ImportError when rawpy is not installed."""
    import rawpy

    need = draft_size or RAW_PREVIEW_MIN
    with rawpy.imread(os.fspath(path)) as raw:
        preview = _preview(raw, need)
        if preview is not None:
            return preview, "preview"
        rgb = raw.postprocess(half_size=True, use_camera_wb=True, output_bps=8)
    return Image.fromarray(rgb), "demosaic"  # LibRaw turned it upright itself


def _preview(raw, need: int) -> Image.Image | None:
    """The embedded preview, upright, when its shorter side is at least ``need`` or at least
    that of the half-size demosaic (then the preview has as many pixels, for less work)."""
    import rawpy

    half = min(raw.sizes.width, raw.sizes.height) // 2
    need = min(need, max(half, 1))
    try:
        thumb = raw.extract_thumb()
    except (rawpy.LibRawNoThumbnailError, rawpy.LibRawUnsupportedThumbnailError):
        return None
    if thumb.format == rawpy.ThumbFormat.JPEG:
        img = Image.open(io.BytesIO(thumb.data))
        if min(img.size) < need:
            return None
        if min(img.size) >= 3 * need:  # a full-size preview: decode it reduced, like a JPEG
            scale = need / min(img.size)
            img.draft("RGB", (int(img.width * scale), int(img.height * scale)))
        img.load()
        own = img.getexif().get(0x0112, 1)
        if own not in (None, 1):  # the preview says its own orientation
            return ImageOps.exif_transpose(img)
    else:  # an uncompressed bitmap, (h, w, 3) uint8
        img = Image.fromarray(thumb.data)
        if min(img.size) < need:
            return None
    flip = raw.sizes.flip
    return img.transpose(_FLIPS[flip]) if flip in _FLIPS else img
