"""Decode cost per format: what one photo costs to decode, resize and crop to a model's input,
for the formats people have at the sizes they come in (a phone's 12 MP JPEG and HEIC, a
screenshot, web images, a camera's DNG), next to a small 500x375 JPEG. Files are generated (a
photo with sensor-like grain, so they compress as real ones do); times are medians."""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from ..data.images import decode_image
from ..data.preprocessing import crop_uint8
from ..data.samples import can_write, phone_photo, write_sample
from ..data.synthetic import photo_like
from ..models.transforms import TransformSpec

TWELVE_MP = (4032, 3024)

#: (row name, sample format, size): the table `pigeonhole bench` prints.
DECODE_SAMPLES = (
    ("JPEG 500x375", "jpeg", (500, 375)),
    ("JPEG 12 MP", "jpeg", TWELVE_MP),
    ("HEIC 12 MP", "heic", TWELVE_MP),
    ("PNG screenshot 1170x2532", "png", (1170, 2532)),
    ("WebP 1600x1200", "webp", (1600, 1200)),
    ("AVIF 1600x1200", "avif", (1600, 1200)),
    ("DNG 12 MP, JPEG preview", "dng", TWELVE_MP),
    ("DNG 12 MP, no preview", "dng-mosaic", TWELVE_MP),
)


@dataclass(frozen=True, slots=True)
class DecodeCost:
    name: str
    fmt: str
    size: tuple[int, int]
    file_kb: float
    ms: float  # median decode + resize + crop, one thread
    how: str  # what the decoder did: "reduced (draft)", "RAW preview"...

    def to_dict(self) -> dict:
        return asdict(self)


def _how(decoded, size: tuple[int, int]) -> str:
    if decoded.how:
        return f"RAW {decoded.how}"
    w, h = decoded.image.size
    return "full size" if (w, h) in (size, size[::-1]) else f"decoded at {w}x{h}"


def time_decode(path: Path, spec: TransformSpec, repeats: int) -> tuple[float, object]:
    """Median ms of decode + resize + crop of ``path`` at ``spec``'s input (draft as the
    pipeline decodes), after one warm-up, and the last decode."""
    decoded = decode_image(path, spec.resize)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        decoded = decode_image(path, spec.resize)
        crop_uint8(decoded.image, spec)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), decoded


def decode_costs(spec: TransformSpec, repeats: int = 5, samples=None, out=None) -> list[DecodeCost]:
    """One row per sample (:data:`DECODE_SAMPLES` by default) this install can write and read
    (others are left out)."""
    samples = DECODE_SAMPLES if samples is None else samples
    rows = []
    pictures: dict[tuple[int, int], object] = {}
    with tempfile.TemporaryDirectory(prefix="pigeonhole-formats-") as tmp:
        for i, (name, fmt, size) in enumerate(samples):
            if not can_write(fmt):
                continue
            key = (size, fmt == "png")  # a screenshot is flat, not grainy
            if key not in pictures:
                pictures[key] = photo_like(1, size) if fmt == "png" else phone_photo(1, size)
            path = write_sample(pictures[key], tmp, fmt, f"sample{i}")
            ms, decoded = time_decode(path, spec, repeats)
            row = DecodeCost(name, fmt, size, path.stat().st_size / 1024, ms, _how(decoded, size))
            rows.append(row)
            if out is not None:
                out(format_row(row))
    return rows


def format_row(row: DecodeCost) -> str:
    return f"  {row.name:<26} {row.file_kb:9,.0f} KB {row.ms:9.1f} ms   {row.how}"


def table_head(spec: TransformSpec) -> str:
    return (
        f"decode + resize + crop to {spec.crop}x{spec.crop} (one thread, median):\n"
        f"  {'format':<26} {'file':>12} {'time':>12}   decoder"
    )
