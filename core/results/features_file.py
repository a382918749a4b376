"""Embeddings written with their paths (`pigeonhole predict --features FILE`): the vector each
image's classification layer saw, from the classification pass itself (core.runtime.kept).

``.npy``: one structured array, fields ``path`` (str) and ``embedding`` (float32, D), read back
with ``numpy.load(FILE)`` (no pickle). ``.parquet``: columns ``path`` (string) and ``embedding``
(fixed-size list of float32), with pyarrow (the cluster extra has it: core.cluster.parquet). Written atomically."""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import OutputPathError
from ..fileio import atomic_write, check_output_file

FEATURE_SUFFIXES = (".npy", ".parquet")


def check_features_file(path: str | os.PathLike, option: str = "--features") -> Path:
    """Refuse, before any work, a file that could not be written or a format that cannot be
    (Parquet without pyarrow)."""
    target = check_output_file(path, option, FEATURE_SUFFIXES)
    if target.suffix.lower() == ".parquet":
        from ..cluster.parquet import has_pyarrow

        if not has_pyarrow():
            raise OutputPathError(
                f"{option}: writing Parquet needs pyarrow (pip install pyarrow, or "
                "pigeonhole[cluster]); FILE.npy needs nothing."
            ) from None
    return target


def write_features(path: str | os.PathLike, paths: Sequence[str], vectors: np.ndarray) -> Path:
    """Write ``vectors`` (N, D) with their ``paths`` to ``path`` (.npy or .parquet)."""
    path = Path(path)
    vectors = np.asarray(vectors, dtype=np.float32)
    vectors = vectors.reshape(len(paths), -1) if len(paths) else np.zeros((0, 0), np.float32)
    if path.suffix.lower() == ".parquet":
        from ..cluster.parquet import embeddings_parquet

        data = embeddings_parquet(paths, vectors)
    else:
        longest = max((len(p) for p in paths), default=1)
        records = np.empty(len(paths), dtype=[("path", f"U{longest}"),
                                              ("embedding", "f4", (vectors.shape[1],))])  # fmt: skip
        records["path"] = paths
        records["embedding"] = vectors
        buf = io.BytesIO()
        np.save(buf, records, allow_pickle=False)
        data = buf.getvalue()
    with atomic_write(path, "wb") as fh:
        fh.write(data)
    return path
