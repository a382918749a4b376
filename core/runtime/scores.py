"""A batch's scores as the records want them: softmax top-k, shared by every engine. torch's
steps compute it on their device (core.runtime.step); ONNX Runtime's in numpy, here, so its
path never imports torch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

#: How far from 1 a row's sum may be for a model's output to count as probabilities already.
PROBABILITY_SUM_TOLERANCE = 1e-3


@dataclass(frozen=True, slots=True)
class TopK:
    """Softmax top-k of a batch: torch tensors on the batch's device (torch's steps), or numpy
    arrays (ONNX Runtime's)."""

    scores: Any  # (N, k) float32
    indices: Any  # (N, k) int64
    logits: Any  # (N, classes) float32: the model's own output
    # The graph's other outputs by name (core.runtime.kept: maps, embedding), host numpy arrays
    extras: dict[str, np.ndarray] | None = None


def are_probabilities(out: np.ndarray) -> bool:
    """Every row is non-negative and sums to 1: the model ends in a softmax already."""
    if out.ndim != 2 or not out.size or not np.isfinite(out).all() or (out < 0).any():
        return False
    return bool(np.abs(out.sum(axis=1, dtype=np.float64) - 1.0).max() <= PROBABILITY_SUM_TOLERANCE)


def softmax_array(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float32, stable for large logits."""
    x = logits.astype(np.float32, copy=True)
    x -= x.max(axis=1, keepdims=True)
    np.exp(x, out=x)
    x /= x.sum(axis=1, keepdims=True)
    return x


def top_k_array(out: np.ndarray, k: int, probabilities: bool | None = None) -> TopK:
    """Softmax top-k of a (N, classes) output in numpy, best first. ``probabilities``: the
    output is already softmaxed (None: tell from the values, see :func:`are_probabilities`),
    so it is not softmaxed twice."""
    out = np.asarray(out, dtype=np.float32)
    if probabilities is None:
        probabilities = are_probabilities(out)
    p = out if probabilities else softmax_array(out)
    k = max(1, min(int(k), p.shape[1]))
    part = np.argpartition(-p, k - 1, axis=1)[:, :k]
    picked = np.take_along_axis(p, part, axis=1)
    order = np.argsort(-picked, axis=1, kind="stable")
    indices = np.take_along_axis(part, order, axis=1).astype(np.int64)
    return TopK(np.take_along_axis(picked, order, axis=1), indices, out)
