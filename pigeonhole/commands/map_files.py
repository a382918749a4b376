"""The files a heat map is written as (`explain`, `predict --explain`): NAME.cam.png (the
overlay) and NAME.cam.npy (float32 on the photo's pixels), each written atomically, NAME made
unique among the run's images."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from pigeonhole.core.fileio import write_bytes_atomic


def write_map_files(folder: Path, explanation, taken: set[str]) -> Path:
    """Write one Explanation's two files into ``folder``; returns the PNG's path."""
    from pigeonhole.core.insight.heatmap_pixels import overlay

    stem = unique_stem(Path(explanation.path).stem, taken)
    png = folder / f"{stem}.cam.png"
    write_npy(folder / f"{stem}.cam.npy", explanation.values)
    write_png(png, overlay(explanation.image, explanation.values))
    return png


def unique_stem(stem: str, taken: set[str]) -> str:
    """``stem``, or ``stem_1``, ``stem_2``... when two images share a name (other folders)."""
    name, n = stem, 0
    while name.casefold() in taken:
        n += 1
        name = f"{stem}_{n}"
    taken.add(name.casefold())
    return name


def write_npy(path: Path, values: np.ndarray) -> None:
    buf = io.BytesIO()
    np.save(buf, values.astype(np.float32))
    write_bytes_atomic(path, buf.getvalue())


def write_png(path: Path, img) -> None:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    write_bytes_atomic(path, buf.getvalue())
