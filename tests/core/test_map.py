"""Similar images and the map (issue 25): nearest neighbours by cosine similarity over the
embeddings, the 2-D projection, and the lasso and hover lookups on it."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest

from pigeonhole.core.errors import Cancelled
from pigeonhole.core.insight import projection
from pigeonhole.core.insight.map_points import PointGrid, points_in_polygon
from pigeonhole.core.insight.projection import PCA, UMAP, pca, project
from pigeonhole.core.insight.similarity import EmbeddingIndex, unit_rows


def clustered(n_per: int = 40, clusters: int = 4, dims: int = 64, seed: int = 0):
    """Vectors around ``clusters`` random centres (float16, as a run keeps them), and each
    vector's cluster."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dims)) * 4
    which = np.repeat(np.arange(clusters), n_per)
    vectors = centres[which] + rng.standard_normal((len(which), dims))
    return vectors.astype(np.float16), which


def test_nearest_images_come_in_order_of_cosine_similarity():
    vectors, which = clustered()
    index = EmbeddingIndex()
    keys = np.arange(len(vectors)) * 10  # keys are the caller's (result rows), not positions
    for start in range(0, len(vectors), 32):  # batch by batch, as a run delivers them
        index.add(keys[start : start + 32], vectors[start : start + 32])
    query = 57
    hits = index.nearest(keys[query], k=20)
    unit = unit_rows(vectors)
    expected = np.argsort(-(unit @ unit[query]), kind="stable")[:20]
    assert hits[0].key == keys[query] and hits[0].similarity == 1.0
    assert [h.key for h in hits] == list(keys[expected])
    sims = [h.similarity for h in hits]
    assert sims == sorted(sims, reverse=True)
    # the 20 nearest of a vector in a cluster of 40 are all from its cluster
    assert {which[k // 10] for k in (h.key for h in hits)} == {which[query]}
    others = index.nearest(keys[query], k=5, include_self=False)
    assert [h.key for h in others] == [h.key for h in hits[1:6]]


def test_the_index_refuses_vectors_of_another_length_and_keeps_keys_once():
    index = EmbeddingIndex()
    index.add([1, 2], [np.ones(8), np.arange(8)])
    index.add([1], [np.zeros(8)])  # already there: kept as it was
    assert len(index) == 2 and np.allclose(np.linalg.norm(index.vectors, axis=1), 1)
    index.add([4, 5], [np.zeros(8, np.float16), np.full(8, 3.0, np.float16)])
    assert not index.vectors[2].any()  # (an all-zero vector stays zero: similar to nothing)
    assert np.allclose(index.vectors[3], np.full(8, 8**-0.5)) and len(index) == 4
    with pytest.raises(ValueError, match="do not match"):
        index.add([3], [np.ones(4)])
    with pytest.raises(KeyError):
        index.nearest(99)


def test_pca_map_has_one_point_per_image_and_is_the_same_every_time():
    vectors, which = clustered(dims=128)
    keys = np.arange(len(vectors)) + 100
    a = project(keys, vectors, PCA)
    b = project(keys, vectors.copy(), PCA)
    assert a.points.shape == (len(vectors), 2) and a.points.dtype == np.float32
    assert np.array_equal(a.keys, keys)
    assert np.array_equal(a.points, b.points)
    # the clusters stay apart: each point's nearest other point is from its own cluster
    d = ((a.points[:, None] - a.points[None]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    assert (which[d.argmin(1)] == which).mean() > 0.95


def test_pca_matches_the_svd_up_to_the_fixed_sign():
    vectors, _ = clustered(dims=16)
    x = vectors.astype(np.float64) - vectors.astype(np.float64).mean(0)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    got = pca(vectors, 2)
    for c in range(2):
        ref = x @ vt[c]
        assert np.allclose(np.abs(got[:, c]), np.abs(ref), atol=1e-2)
        assert np.allclose(got[:, c], ref, atol=1e-2) or np.allclose(got[:, c], -ref, atol=1e-2)


def test_without_umap_the_map_is_pca_and_says_why(monkeypatch):
    monkeypatch.setitem(sys.modules, "umap", None)  # import umap raises ImportError
    monkeypatch.setitem(sys.modules, "sklearn", None)
    vectors, _ = clustered()
    p = project(np.arange(len(vectors)), vectors)
    assert p.method == PCA and "not installed" in p.note
    with pytest.raises(ValueError, match="cannot make a map here"):
        project(np.arange(len(vectors)), vectors, UMAP)


def test_with_umap_installed_the_map_is_umap_of_the_principal_components(monkeypatch):
    seen = {}

    class FakeUMAP:
        def __init__(self, n_components, random_state, metric):
            seen["seed"] = random_state

        def fit_transform(self, x):
            seen["dims"] = x.shape[1]
            return x[:, :2] * 2

    monkeypatch.setitem(sys.modules, "umap", types.SimpleNamespace(UMAP=FakeUMAP))
    vectors, _ = clustered(dims=80)
    p = project(np.arange(len(vectors)), vectors, seed=3)
    assert p.method == UMAP and p.note == ""
    assert seen == {"seed": 3, "dims": projection.PRE_DIMS}
    assert np.allclose(p.points, pca(vectors, 2) * 2)


def test_a_stopped_projection_raises_cancelled_and_too_few_images_say_so():
    vectors, _ = clustered()
    with pytest.raises(Cancelled):
        project(np.arange(len(vectors)), vectors, PCA, should_stop=lambda: True)
    with pytest.raises(ValueError, match="at least 3"):
        project(np.arange(2), vectors[:2], PCA)


def test_lasso_selects_exactly_the_points_inside_the_polygon():
    rng = np.random.default_rng(1)
    pts = rng.uniform(-1, 1, (20_000, 2))
    # a concave "L": the square [-0.5, 0.5]^2 less its upper right quarter
    poly = np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0], [0, 0], [0, 0.5], [-0.5, 0.5]])
    got = points_in_polygon(pts, poly)
    x, y = pts[:, 0], pts[:, 1]
    square = (np.abs(x) < 0.5) & (np.abs(y) < 0.5)
    expected = square & ~((x > 0) & (y > 0))
    assert np.array_equal(got, expected)
    assert not points_in_polygon(pts, poly[:2]).any()  # a line, not a lasso


def test_hover_finds_the_nearest_point_within_the_radius_only():
    rng = np.random.default_rng(2)
    pts = rng.uniform(0, 100, (5_000, 2))
    grid = PointGrid(pts)
    for q in rng.uniform(0, 100, (200, 2)):
        d = np.hypot(pts[:, 0] - q[0], pts[:, 1] - q[1])
        best = int(d.argmin())
        got = grid.nearest(q[0], q[1], 2.0, 2.0)
        assert got == (best if d[best] <= 2.0 else None)
    assert grid.nearest(-50, -50, 1.0, 1.0) is None
