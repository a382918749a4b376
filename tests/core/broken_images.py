"""A corpus of awkward and broken image files, written on demand (core and GUI tests use it).

:func:`write_corpus` returns a :class:`Corpus` saying, for each candidate file, whether it must
decode (``None``) or which words its error reason must contain.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, TiffImagePlugin

from pigeonhole.core.data.synthetic import class_image


@dataclass(slots=True)
class Corpus:
    root: Path
    expected: dict[str, str | None] = field(default_factory=dict)  # name -> error words or None
    ignored: list[str] = field(default_factory=list)  # non-image files
    hidden: list[str] = field(default_factory=list)

    @property
    def good(self) -> list[str]:
        return [n for n, e in self.expected.items() if e is None]

    @property
    def bad(self) -> list[str]:
        return [n for n, e in self.expected.items() if e is not None]


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(width: int = 60_000, height: int = 60_000) -> bytes:
    """A tiny PNG whose header claims width x height pixels (3.6 gigapixels by default)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def jpeg_bytes(img: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90, **kw)
    return buf.getvalue()


def exif_rotated_jpeg(path: Path, size=(80, 40), orientation: int = 6) -> None:
    """Stored ``size`` (wide), EXIF says rotate: decodes as tall. Left half red, right blue."""
    img = Image.new("RGB", size, (220, 20, 20))
    img.paste((20, 20, 220), (size[0] // 2, 0, size[0], size[1]))
    exif = Image.Exif()
    exif[0x0112] = orientation
    img.save(path, "JPEG", quality=95, exif=exif)


def write_corpus(root: str | os.PathLike) -> Corpus:
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    c = Corpus(root)
    base = class_image("red", 1, (96, 72))

    def put(name: str, data: bytes, expect: str | None) -> None:
        (root / name).write_bytes(data)
        c.expected[name] = expect

    put("01_good.jpg", jpeg_bytes(base), None)
    png = io.BytesIO()
    base.save(png, "PNG")
    put("02_png_named.JPG", png.getvalue(), None)  # content wins over extension (and any case)
    full = jpeg_bytes(class_image("blue", 2, (160, 120)))
    put("03_truncated.jpg", full[: len(full) // 2], "truncated")
    put("04_zero.jpg", b"", "empty")
    put("05_text.jpg", b"this is not a picture\n" * 20, "not an image")
    put("06_garbage.png", png.getvalue()[:60] + os.urandom(300), "corrupt")
    put("07_bomb.png", bomb_png(), "too large")

    base.convert("CMYK").save(root / "08_cmyk.jpg", "JPEG")
    c.expected["08_cmyk.jpg"] = None
    grey16 = (np.linspace(0, 65535, 64 * 48).reshape(48, 64)).astype(np.uint16)
    Image.fromarray(grey16).save(root / "09_grey16.png")
    c.expected["09_grey16.png"] = None
    exif_rotated_jpeg(root / "10_exif_rotated.jpg")
    c.expected["10_exif_rotated.jpg"] = None
    pal = base.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    pal.info["transparency"] = 0
    pal.save(root / "11_palette_transparent.png", transparency=0)
    c.expected["11_palette_transparent.png"] = None
    base.convert("LA").save(root / "12_la.png")
    c.expected["12_la.png"] = None
    frames = [class_image(n, 3, (64, 48)) for n in ("green", "yellow")]
    frames[0].save(root / "13_anim.gif", save_all=True, append_images=frames[1:], duration=100)
    c.expected["13_anim.gif"] = None
    base.save(root / "14_image.webp", "WEBP")
    c.expected["14_image.webp"] = None
    base.save(root / "15_image.bmp", "BMP")
    c.expected["15_image.bmp"] = None
    base.save(root / "16_image.tiff", "TIFF")
    c.expected["16_image.tiff"] = None

    for name, text in (("notes.txt", "hello"), ("01_good.xmp", "<x:xmpmeta/>"), ("Thumbs.db", "")):
        (root / name).write_text(text)
        c.ignored.append(name)
    (root / ".hidden.jpg").write_bytes(jpeg_bytes(base))
    c.hidden.append(".hidden.jpg")
    return c


def dds_unimplemented(path: Path) -> Path:
    """A DDS header with pixel-format flags Pillow does not implement: Image.open raises
    NotImplementedError (as on Pillow's own ``unimplemented_pfflags.dds``)."""
    header = bytearray(120)
    header[0:12] = struct.pack("<3I", 0x1007, 4, 4)  # flags, height, width
    header[68:84] = struct.pack("<4I", 32, 0x8, 0, 0)  # pfsize, pfflags 8 (unknown)...
    path.write_bytes(b"DDS " + struct.pack("<I", 124) + bytes(header))
    return path


def tiff_with_oversized_tag(path: Path) -> Path:
    """A valid 8x8 TIFF whose tag 37500 claims more data than the file holds: Pillow decodes it
    and warns "Tag data larger than file" (a UserWarning) on the way."""
    info = TiffImagePlugin.ImageFileDirectory_v2()
    info[37500] = b"x" * 40
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buf, "TIFF", tiffinfo=info)
    data = bytearray(buf.getvalue())
    (ifd,) = struct.unpack("<I", data[4:8])
    (count,) = struct.unpack("<H", data[ifd : ifd + 2])
    for i in range(count):
        entry = ifd + 2 + 12 * i
        if struct.unpack("<H", data[entry : entry + 2])[0] == 37500:
            data[entry + 4 : entry + 8] = struct.pack("<I", 10_000_000)
    path.write_bytes(bytes(data))
    return path
