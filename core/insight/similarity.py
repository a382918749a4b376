"""Images like a given one: cosine similarity over the embeddings a classification run kept
(``Prediction.embedding``, the vector the network's classification layer sees).

Exact search on numpy: the vectors are kept unit-length in float32, so one query is one
matrix-vector product and a partial sort. At 50,000 x 512 that reads 100 MB and takes about
4 ms on a 2-core laptop (benchmarks/bench_map.py), within the 5 ms a query may take; an
approximate index (HNSW) would add a dependency and a 15 s build for no gain at this size.
float16 is kept off the hot path: numpy has no BLAS for it (a query took 120 ms).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Neighbour:
    """One image near the query: its ``key`` (what the caller indexed it by: a result row) and
    its cosine ``similarity`` (1: the same direction)."""

    key: int
    similarity: float


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """``vectors`` as float32 rows of length 1 (an all-zero row stays zero: similar to
    nothing)."""
    out = np.array(vectors, dtype=np.float32)  # (a copy, whatever the input's type)
    normalise_rows(out)
    return out


def normalise_rows(out: np.ndarray) -> None:
    """Scale the float32 rows of ``out`` to length 1, in place (zero rows stay zero)."""
    norms = np.sqrt(np.einsum("ij,ij->i", out, out))[:, None]
    np.divide(out, norms, out=out, where=norms > 0)


class EmbeddingIndex:
    """The embeddings of a growing set of images (rows arrive batch by batch during a run),
    searchable by cosine similarity. Each vector is filed under an integer ``key``."""

    def __init__(self, dims: int | None = None):
        self.dims = dims
        self._vectors = np.empty((0, dims or 0), dtype=np.float32)
        self._keys = np.empty(0, dtype=np.int64)
        self._row_of: dict[int, int] = {}
        self.n = 0

    def __len__(self) -> int:
        return self.n

    def __contains__(self, key: int) -> bool:
        return key in self._row_of

    @property
    def keys(self) -> np.ndarray:
        return self._keys[: self.n]

    @property
    def vectors(self) -> np.ndarray:
        """The unit vectors, one row per key (a view: do not change it)."""
        return self._vectors[: self.n]

    def add(self, keys: Sequence[int], vectors: Iterable[np.ndarray]) -> None:
        """File ``vectors`` (1-D, any float type) under ``keys``; a key already there is
        left as it was. Vectors of another length than the first ones are refused."""
        pairs = [(int(k), v) for k, v in zip(keys, vectors, strict=True) if k not in self]
        if not pairs:
            return
        block = np.stack([np.asarray(v).ravel() for _, v in pairs])
        if self.dims is None:
            self.dims = block.shape[1]
            self._vectors = np.empty((0, self.dims), dtype=np.float32)
        if block.shape[1] != self.dims:
            raise ValueError(
                f"embeddings of {block.shape[1]} values do not match the {self.dims} of the "
                "others (results from two different models?)"
            )
        self._grow(self.n + len(pairs))
        end = self.n + len(pairs)
        self._vectors[self.n : end] = block  # (float32 in place: no copy of the whole block)
        normalise_rows(self._vectors[self.n : end])
        self._keys[self.n : end] = [k for k, _ in pairs]
        for i, (k, _) in enumerate(pairs):
            self._row_of[k] = self.n + i
        self.n = end

    def _grow(self, need: int) -> None:
        if need <= len(self._vectors):
            return
        size = max(need, 2 * len(self._vectors), 256)
        vectors = np.empty((size, self.dims), dtype=np.float32)
        vectors[: self.n] = self._vectors[: self.n]
        keys = np.empty(size, dtype=np.int64)
        keys[: self.n] = self._keys[: self.n]
        self._vectors, self._keys = vectors, keys

    def nearest(self, key: int, k: int = 100, include_self: bool = True) -> list[Neighbour]:
        """The ``k`` images most like the one filed under ``key``, most similar first (the
        image itself first when ``include_self``: it is what the person looks for others
        like). Ties keep the order the images were added in."""
        if key not in self._row_of:
            raise KeyError(f"no embedding for {key}")
        hits = self.nearest_to(self._vectors[self._row_of[key]], k + 1, first=key)
        return hits[:k] if include_self else hits[1 : k + 1]

    def nearest_to(self, vector: np.ndarray, k: int, first: int | None = None) -> list[Neighbour]:
        """The ``k`` images most like ``vector`` (any length-``dims`` vector), most similar
        first; ``first``: a key put first whatever its score (the query image itself)."""
        if self.n == 0:
            return []
        q = unit_rows(np.asarray(vector).reshape(1, -1))[0]
        scores = self.vectors @ q
        k = min(k, self.n)
        if first is not None and first in self._row_of:
            scores[self._row_of[first]] = np.inf
        top = np.argpartition(-scores, k - 1)[:k] if k < self.n else np.arange(self.n)
        top = top[np.lexsort((top, -scores[top]))]  # by score, then by order added
        out = [Neighbour(int(self._keys[i]), float(scores[i])) for i in top]
        if first is not None and out and out[0].key == first:
            out[0] = Neighbour(first, 1.0)
        return out
