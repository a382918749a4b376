"""Pairs of close vectors: near duplicates by embedding (the vector the classification layer
sees, kept from the classification pass or extracted once), measured by cosine distance
(1 - cosine similarity: 0 the same direction, 1 unrelated, 2 opposite).

A network trained on the classes puts two edits of one photo much closer than two photos of
one class; a random backbone does not (issue 25: its embeddings could not tell copies from
other photos), so the perceptual hash stays the first test and this one adds to it when a
trained model's vectors are there. Every vector is compared with every later one in blocks of
rows (one BLAS matrix product of unit float32 rows per block, core.insight.pairs): exact,
bounded memory, cancellable between blocks, and done once for every threshold of a slider."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from ..tasks import StopFlag
from .duplicate_options import DEFAULT_COSINE, MAX_COSINE
from .pairs import PAIR_BUDGET, ClosePairs, search_pairs

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


def cosine_key(max_distance: float) -> float:
    """The pair key (negated float32 cosine similarity, :func:`vector_pairs`) of the loosest
    pair within ``max_distance``: similarity at least 1 - distance (less a rounding slack)."""
    return -float(np.float32(1.0 - check_cosine(max_distance) - 1e-6))


def vector_pairs(
    vectors: np.ndarray,
    distances: Sequence[float] = (DEFAULT_COSINE,),
    should_stop: StopFlag = None,
    budget: int = PAIR_BUDGET,
) -> ClosePairs | None:
    """The pairs of rows within the largest of ``distances`` (cosine), found once: filter them
    at any of ``distances`` with ``pairs.upto(cosine_key(d))``. With more than ``budget`` pairs
    the search keeps those within a smaller one of ``distances`` (``pairs.limit`` says which).
    Rows of zeros (no embedding) pair with nothing. None when stopped."""
    x = unit_rows(vectors)
    present = np.flatnonzero(np.linalg.norm(x, axis=1) > 0)
    x = np.ascontiguousarray(x[present])

    def keys_of(start: int, stop: int) -> np.ndarray:
        return np.negative(x[start:stop]) @ x[start:].T  # (negated before: no extra pass)

    levels = [cosine_key(d) for d in distances]
    pairs = search_pairs(len(x), keys_of, levels, _BLOCK, budget, should_stop)
    if pairs is None:
        return None
    return ClosePairs(present[pairs.first].astype(np.int32),
                      present[pairs.second].astype(np.int32), pairs.key, pairs.limit)  # fmt: skip


def close_vectors(
    vectors: np.ndarray, max_distance: float = DEFAULT_COSINE, should_stop: StopFlag = None
) -> Iterator[tuple[int, int, float]]:
    """(i, j, cosine distance) for every pair i < j within ``max_distance``, closest first.
    Rows of zeros (no embedding) pair with nothing."""
    pairs = vector_pairs(vectors, (max_distance,), should_stop)
    if pairs is None:
        return
    for i, j, key in zip(pairs.first.tolist(), pairs.second.tolist(), pairs.key.tolist(),
                         strict=True):  # fmt: skip
        yield i, j, max(0.0, 1.0 + key)


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
