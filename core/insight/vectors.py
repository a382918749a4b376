"""Pairs of close vectors: near duplicates by embedding (the vector the classification layer
sees, kept from the classification pass or extracted once), measured by cosine distance
(1 - cosine similarity: 0 the same direction, 1 unrelated, 2 opposite).

A network trained on the classes puts two edits of one photo much closer than two photos of
one class; a random backbone does not (issue 25: its embeddings could not tell copies from
other photos), so the perceptual hash stays the first test and this one adds to it when a
trained model's vectors are there. Every vector is compared with every other in blocks of
rows (one matrix product per block): exact, bounded memory, and cancellable between blocks."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ..tasks import StopFlag, stop_check
from .duplicate_options import DEFAULT_COSINE, MAX_COSINE

_BLOCK = 1024  # rows multiplied at once: a (1024, N) float32 block (200 MB at N = 50,000)


def check_cosine(max_distance: float) -> float:
    """``max_distance`` as a float, or ValueError with the allowed range."""
    value = float(max_distance)
    if not 0.0 <= value <= MAX_COSINE:
        raise ValueError(f"the embedding distance must be from 0 to {MAX_COSINE}, not {value}")
    return value


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """(N, D) float32 rows scaled to length 1; a zero or non-finite row stays all zeros (it
    matches nothing: an image without an embedding)."""
    x = np.asarray(vectors, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"expected an (N, D) array of embeddings, not shape {x.shape}")
    x = np.where(np.isfinite(x), x, 0.0).astype(np.float32, copy=False)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


def close_vectors(
    vectors: np.ndarray, max_distance: float = DEFAULT_COSINE, should_stop: StopFlag = None
) -> Iterator[tuple[int, int, float]]:
    """(i, j, cosine distance) for every pair i < j within ``max_distance``. Rows of zeros (no
    embedding) pair with nothing."""
    max_distance = check_cosine(max_distance)
    stop = stop_check(should_stop)
    x = unit_rows(vectors)
    present = np.linalg.norm(x, axis=1) > 0
    for start in range(0, len(x), _BLOCK):
        if stop():
            return
        sim = x[start : start + _BLOCK] @ x.T
        rows, cols = np.nonzero(sim >= 1.0 - max_distance - 1e-6)
        for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
            i = start + r
            if c > i and present[i] and present[c]:
                yield i, c, max(0.0, float(1.0 - sim[r, c]))


def cosine_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine distance of two vectors (1.0 when either is zero: unrelated)."""
    u = unit_rows(np.stack([np.ravel(a), np.ravel(b)]))
    if not (u[0].any() and u[1].any()):
        return 1.0
    return max(0.0, float(1.0 - u[0] @ u[1]))


def stack_vectors(vectors: list) -> np.ndarray | None:
    """(N, D) float32 from per-image embeddings (a missing or odd-sized one: a row of zeros,
    which matches nothing); None when no image has one."""
    present = [v for v in vectors if v is not None]
    if not present:
        return None
    width = int(np.asarray(present[0]).size)
    out = np.zeros((len(vectors), width), dtype=np.float32)
    for i, v in enumerate(vectors):
        if v is not None and np.asarray(v).size == width:
            out[i] = np.ravel(v)
    return out
