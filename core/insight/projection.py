"""A map of a folder: the run's embeddings projected to two dimensions, so that images the
network sees alike lie close together.

PCA always works (numpy only: the covariance of the vectors, its eigenvectors, 50,000 x 512
in about 2 s). Where umap-learn is installed (it is not a dependency: numba is heavy and has
had trouble inside frozen bundles), the map is UMAP of the first 50 principal components,
which keeps clusters apart that PCA lays over each other; where only scikit-learn is, t-SNE
for folders small enough to stay within a minute. Every method is seeded: the same vectors give
the same map.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np

from ..errors import Cancelled
from ..tasks import StopFlag, stop_requested

log = logging.getLogger(__name__)

PCA = "PCA"
UMAP = "UMAP"
TSNE = "t-SNE"
PRE_DIMS = 50  # principal components UMAP and t-SNE start from
TSNE_MAX = 10_000  # t-SNE (scikit-learn, exact gradients by Barnes-Hut) past this takes minutes
MIN_POINTS = 3


@dataclass(frozen=True, slots=True)
class Projection:
    """Where each image lies on the map: ``points`` (n, 2) float32, row i for ``keys[i]`` (the
    caller's keys: result rows), made by ``method`` in ``seconds``; ``note``: why not a better
    method ("UMAP is not installed"), or ""."""

    keys: np.ndarray
    points: np.ndarray
    method: str
    seconds: float
    note: str = ""


def pca(vectors: np.ndarray, dims: int = 2) -> np.ndarray:
    """The first ``dims`` principal components of ``vectors`` (n, d) as (n, dims) float32.
    Each component's sign is fixed (its largest loading positive), so the same vectors always
    give the same picture, not a mirrored one."""
    x = np.asarray(vectors, dtype=np.float32)
    x = x - x.mean(axis=0, dtype=np.float64).astype(np.float32)
    dims = min(dims, x.shape[1])
    cov = (x.T @ x).astype(np.float64)
    values, vecs = np.linalg.eigh(cov)  # ascending
    basis = vecs[:, ::-1][:, :dims]
    signs = np.sign(basis[np.abs(basis).argmax(axis=0), np.arange(dims)])
    basis = (basis * np.where(signs == 0, 1.0, signs)).astype(np.float32)
    return x @ basis


def _library(method: str):
    """The module that makes ``method`` (umap, or sklearn.manifold for t-SNE), or None where it
    is not installed or fails to import (a broken numba in a bundle is as good as none)."""
    try:
        if method == UMAP:
            import umap

            return umap
        from sklearn import manifold

        return manifold
    except Exception as e:
        log.info("%s cannot be used for the map: %s", method, e)
        return None


def best_method(n: int) -> tuple[str, str]:
    """The method a map of ``n`` images gets, and why not a better one ("" if none is)."""
    if _library(UMAP) is not None:
        return UMAP, ""
    if n <= TSNE_MAX and _library(TSNE) is not None:
        return TSNE, "UMAP (umap-learn) is not installed"
    return PCA, "UMAP (umap-learn) is not installed: PCA keeps some groups on top of each other"


def project(
    keys: np.ndarray,
    vectors: np.ndarray,
    method: str | None = None,
    seed: int = 0,
    *,
    should_stop: StopFlag = None,
    progress=None,
) -> Projection:
    """Project ``vectors`` (n, d), filed under ``keys``, to 2-D with ``method`` (None: the best
    one installed, :func:`best_method`). Raises :class:`Cancelled` when stopped between steps
    and ValueError for fewer than three vectors."""
    vectors = np.asarray(vectors)
    n = len(vectors)
    if n < MIN_POINTS:
        raise ValueError(f"A map needs at least {MIN_POINTS} images with embeddings, not {n}.")
    note = ""
    if method is None:
        method, note = best_method(n)
    t0 = time.perf_counter()
    if progress is not None:
        progress(0, 2)
    if method == PCA:
        points = pca(vectors, 2)
    else:
        start = pca(vectors, min(PRE_DIMS, vectors.shape[1]))
        if stop_requested(should_stop):
            raise Cancelled()
        points = _embed(method, start, seed)
    if stop_requested(should_stop):
        raise Cancelled()
    if progress is not None:
        progress(2, 2)
    return Projection(
        np.asarray(keys, dtype=np.int64),
        np.ascontiguousarray(points, dtype=np.float32),
        method,
        time.perf_counter() - t0,
        note,
    )


def _embed(method: str, start: np.ndarray, seed: int) -> np.ndarray:
    """UMAP or t-SNE of the principal components ``start``."""
    library = _library(method) if method in (UMAP, TSNE) else None
    if library is None:
        raise ValueError(
            f"{method!r} cannot make a map here (PCA can; UMAP and t-SNE if installed)"
        )
    if method == UMAP:
        reducer = library.UMAP(n_components=2, random_state=seed, metric="euclidean")
        return reducer.fit_transform(start)
    perplexity = min(30.0, max(2.0, (len(start) - 1) / 3))
    tsne = library.TSNE(2, perplexity=perplexity, init="pca", random_state=seed)
    return tsne.fit_transform(start)
