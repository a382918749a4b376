"""Sample files in every format people have, made from one picture: for the self-test (one file
of each format decodes), `pigeonhole bench` (decode cost per format) and the tests.

Pillow writes JPEG, PNG, TIFF, WebP, GIF and AVIF; pillow-heif writes HEIC; pillow-jxl-plugin
writes JPEG XL when installed. Nothing writes camera RAW, so :func:`write_dng` writes a small
valid DNG itself: a TIFF whose main image is a 16-bit RGGB Bayer mosaic of the picture (linear
light), with DNG's colour tags and, optionally, an embedded JPEG preview in a sub-IFD, as
cameras and converters write them. LibRaw (rawpy) reads both the preview and the mosaic.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
from PIL import Image

from .formats import register_readers
from .synthetic import photo_like

register_readers()

# TIFF field types
_BYTE, _ASCII, _SHORT, _LONG, _RATIONAL, _SRATIONAL = 1, 2, 3, 4, 5, 10
_WHITE = 4095  # a 12-bit sensor's white level
# XYZ (D65) -> linear sRGB: the ColorMatrix1 of a camera whose native colours are sRGB's.
_XYZ_TO_SRGB = (3.2406, -1.5372, -0.4986, -0.9689, 1.8758, 0.0415, 0.0557, -0.2040, 1.0570)


def _field(tag: int, typ: int, values) -> tuple[int, int, int, bytes]:
    """(tag, type, count, packed little-endian value bytes) of one IFD entry."""
    if typ == _ASCII:
        data = values.encode("ascii") + b"\0"
        return tag, typ, len(data), data
    if typ in (_RATIONAL, _SRATIONAL):
        code = "ii" if typ == _SRATIONAL else "II"
        data = b"".join(struct.pack("<" + code, round(v * 10000), 10000) for v in values)
        return tag, typ, len(values), data
    code = {_BYTE: "B", _SHORT: "H", _LONG: "I"}[typ]
    return tag, typ, len(values), struct.pack(f"<{len(values)}{code}", *values)


def _ifd(fields: list, offset: int) -> bytes:
    """One IFD at file ``offset``: its entries (sorted by tag), next-IFD 0, then the values
    that do not fit in an entry."""
    fields = sorted(fields)
    head = struct.pack("<H", len(fields))
    extra = b""
    values_at = offset + 2 + 12 * len(fields) + 4
    for tag, typ, count, data in fields:
        if len(data) <= 4:
            head += struct.pack("<HHI", tag, typ, count) + data.ljust(4, b"\0")
        else:
            head += struct.pack("<HHII", tag, typ, count, values_at + len(extra))
            extra += data + b"\0" * (len(data) & 1)
    return head + struct.pack("<I", 0) + extra


def _mosaic(img: Image.Image) -> bytes:
    """The picture as a camera sensor records it: linear light, RGGB, 12-bit in 16."""
    rgb = np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0
    h, w = rgb.shape[0] & ~1, rgb.shape[1] & ~1
    lin = rgb[:h, :w] ** 2.2 * _WHITE
    cfa = np.empty((h, w), dtype="<u2")
    cfa[0::2, 0::2] = lin[0::2, 0::2, 0]
    cfa[0::2, 1::2] = lin[0::2, 1::2, 1]
    cfa[1::2, 0::2] = lin[1::2, 0::2, 1]
    cfa[1::2, 1::2] = lin[1::2, 1::2, 2]
    return cfa.tobytes()


def write_dng(
    path: str | Path, img: Image.Image, preview: Image.Image | None = None, orientation: int = 1
) -> Path:
    """A valid DNG of ``img`` (even width and height are used), with ``preview`` embedded as a
    JPEG when given; ``orientation`` is the EXIF/TIFF orientation the camera recorded."""
    w, h = img.width & ~1, img.height & ~1
    raw = _mosaic(img)
    jpeg = b""
    if preview is not None:
        buf = io.BytesIO()
        preview.convert("RGB").save(buf, "JPEG", quality=90)
        jpeg = buf.getvalue()

    def main_fields(sub_at: int, raw_at: int) -> list:
        fields = [
            _field(254, _LONG, [0]), _field(256, _LONG, [w]), _field(257, _LONG, [h]),
            _field(258, _SHORT, [16]), _field(259, _SHORT, [1]), _field(262, _SHORT, [32803]),
            _field(271, _ASCII, "Pigeonhole"), _field(272, _ASCII, "Sample camera"),
            _field(273, _LONG, [raw_at]), _field(274, _SHORT, [orientation]),
            _field(277, _SHORT, [1]), _field(278, _LONG, [h]), _field(279, _LONG, [len(raw)]),
            _field(284, _SHORT, [1]), _field(33421, _SHORT, [2, 2]),
            _field(33422, _BYTE, [0, 1, 1, 2]), _field(50706, _BYTE, [1, 4, 0, 0]),
            _field(50707, _BYTE, [1, 1, 0, 0]), _field(50708, _ASCII, "Pigeonhole Sample"),
            _field(50717, _LONG, [_WHITE]), _field(50721, _SRATIONAL, _XYZ_TO_SRGB),
            _field(50728, _RATIONAL, [1, 1, 1]), _field(50778, _SHORT, [21]),
        ]  # fmt: skip
        if jpeg:
            fields.append(_field(330, _LONG, [sub_at]))
        return fields

    def preview_fields(jpeg_at: int) -> list:
        pw, ph = preview.size
        return [
            _field(254, _LONG, [1]), _field(256, _LONG, [pw]), _field(257, _LONG, [ph]),
            _field(258, _SHORT, [8, 8, 8]), _field(259, _SHORT, [7]), _field(262, _SHORT, [6]),
            _field(273, _LONG, [jpeg_at]), _field(277, _SHORT, [3]), _field(278, _LONG, [ph]),
            _field(279, _LONG, [len(jpeg)]),
        ]  # fmt: skip

    # Sizes do not depend on the offsets written into the entries: lay out once with zeros.
    main_len = len(_ifd(main_fields(0, 0), 8))
    sub_len = len(_ifd(preview_fields(0), 8 + main_len)) if jpeg else 0
    raw_at = 8 + main_len + sub_len
    out = b"II*\0" + struct.pack("<I", 8) + _ifd(main_fields(8 + main_len, raw_at), 8)
    if jpeg:
        out += _ifd(preview_fields(raw_at + len(raw)), 8 + main_len)
    path = Path(path)
    path.write_bytes(out + raw + jpeg)
    return path


def phone_photo(seed: int, size: tuple[int, int] = (4032, 3024)) -> Image.Image:
    """A photo with sensor-like grain: it compresses about as a phone's photo does (a 12 MP
    JPEG at quality 90 is a few MB), so decoding it costs what a real one costs."""
    base = np.asarray(photo_like(seed, size), dtype=np.int16)
    rng = np.random.default_rng(seed)
    tile = rng.normal(0.0, 6.0, (509, 509, 1)).round().astype(np.int16)  # tiled: fast
    grain = np.tile(tile, (size[1] // 509 + 1, size[0] // 509 + 1, 1))[: size[1], : size[0]]
    return Image.fromarray(np.clip(base + grain, 0, 255).astype(np.uint8), "RGB")


def _heic(img: Image.Image, path: Path) -> None:
    # About half the JPEG's size, as a phone's HEIC is; x265's fastest preset keeps writing a
    # 12 MP sample to seconds (decoding costs about the same as with the default preset).
    img.save(path, "HEIF", quality=50, enc_params={"preset": "ultrafast"})


def _cmyk(img: Image.Image, path: Path) -> None:
    img.convert("CMYK").save(path, "JPEG", quality=90)


def _png16(img: Image.Image, path: Path) -> None:
    grey16 = (np.asarray(img.convert("L"), dtype=np.uint16) * 257).astype(np.uint16)
    Image.fromarray(grey16).save(path, "PNG")  # mode I;16


def _tiff16(img: Image.Image, path: Path) -> None:
    grey16 = (np.asarray(img.convert("L"), dtype=np.uint16) * 257).astype(np.uint16)
    Image.fromarray(grey16).save(path, "TIFF")


def _palette(img: Image.Image, path: Path) -> None:
    p = img.convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    p.info["transparency"] = 0
    p.save(path, "PNG", transparency=0)


def _gif(img: Image.Image, path: Path) -> None:
    frames = [img, img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    frames[0].save(path, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def _dng(img: Image.Image, path: Path) -> None:
    write_dng(path, img, preview=img)  # a full-size preview, as most cameras embed


def _dng_mosaic(img: Image.Image, path: Path) -> None:
    write_dng(path, img)  # no preview: LibRaw demosaics


#: name -> (file suffix, writer): every sample format.
SAMPLE_FORMATS = {
    "jpeg": (".jpg", lambda img, p: img.save(p, "JPEG", quality=90)),
    "heic": (".heic", _heic),
    "avif": (".avif", lambda img, p: img.save(p, "AVIF", quality=75, speed=8)),
    "webp": (".webp", lambda img, p: img.save(p, "WEBP", quality=85)),
    "png": (".png", lambda img, p: img.save(p, "PNG", compress_level=1)),
    "png16": (".png", _png16),
    "tiff16": (".tif", _tiff16),
    "cmyk": (".jpg", _cmyk),
    "palette": (".png", _palette),
    "gif": (".gif", _gif),
    "jxl": (".jxl", lambda img, p: img.save(p, "JXL", quality=85)),
    "dng": (".dng", _dng),
    "dng-mosaic": (".dng", _dng_mosaic),
}


def can_write(fmt: str) -> bool:
    """Whether this install can write (and so read) sample format ``fmt``."""
    from .listing import IMAGE_EXTENSIONS

    suffix = SAMPLE_FORMATS[fmt][0]
    if fmt.startswith("dng"):
        return suffix in IMAGE_EXTENSIONS  # written here; read when rawpy is installed
    Image.init()
    return (
        suffix in IMAGE_EXTENSIONS
        and suffix in Image.registered_extensions()
        and (Image.registered_extensions()[suffix] in Image.SAVE)
    )


def write_sample(img: Image.Image, folder: str | Path, fmt: str, stem: str | None = None) -> Path:
    """``img`` written as sample format ``fmt`` into ``folder`` (named ``<stem or fmt><suffix>``)."""
    suffix, writer = SAMPLE_FORMATS[fmt]
    path = Path(folder) / f"{stem or fmt}{suffix}"
    writer(img, path)
    return path


def decode_every_format(folder: str | Path) -> dict[str, str]:
    """Write one small sample of each format this install reads and decode it as a run does:
    format -> ``"ok"``, or the reason it failed, or ``"not installed"`` (self-test)."""
    from ..errors import ImageLoadError
    from .images import load_image
    from .synthetic import class_image

    picture = class_image("blue", 1, (96, 72))
    results = {}
    for fmt in SAMPLE_FORMATS:
        if not can_write(fmt):
            results[fmt] = "not installed"
            continue
        try:
            img = load_image(write_sample(picture, folder, fmt), draft_size=32)
        except ImageLoadError as e:
            results[fmt] = str(e)
            continue
        wanted = (48, 36) if fmt == "dng-mosaic" else (96, 72)  # LibRaw's half size
        results[fmt] = "ok" if img.mode == "RGB" and img.size == wanted else f"got {img.size}"
    return results
