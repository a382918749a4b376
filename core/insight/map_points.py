"""Finding points on the map: the ones inside a lasso, the one under the mouse.

Both are numpy on the whole set at once, so a map of 50,000 images stays interactive: a lasso
of a few hundred corners tests every point against every edge in one vectorised pass per edge
(tens of ms), and the mouse looks up a bucket grid built once per map, touching only the
points of the cells around it, never all of them on every move.
"""

from __future__ import annotations

import numpy as np

GRID_CELLS = 256  # per side of the bucket grid


def points_in_polygon(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Which of ``points`` (n, 2) lie inside ``polygon`` (m, 2; closed implicitly), by the
    even-odd rule (a lasso crossing itself leaves its inner loop out), as a bool mask."""
    points = np.asarray(points, dtype=np.float64)
    poly = np.asarray(polygon, dtype=np.float64)
    inside = np.zeros(len(points), dtype=bool)
    if len(poly) < 3 or len(points) == 0:
        return inside
    lo, hi = poly.min(axis=0), poly.max(axis=0)
    box = np.all((points >= lo) & (points <= hi), axis=1)
    idx = np.flatnonzero(box)
    x, y = points[idx, 0], points[idx, 1]
    hit = np.zeros(len(idx), dtype=bool)
    x0, y0 = poly[:, 0], poly[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    for ax, ay, bx, by in zip(x0, y0, x1, y1, strict=True):
        if ay == by:
            continue  # a horizontal edge never crosses the rightward ray
        crosses = (ay > y) != (by > y)
        at = ax + (y - ay) * (bx - ax) / (by - ay)
        hit ^= crosses & (x < at)
    inside[idx] = hit
    return inside


class PointGrid:
    """A bucket grid over ``points`` (n, 2): :meth:`nearest` looks at the cells around a
    position only."""

    def __init__(self, points: np.ndarray, cells: int = GRID_CELLS):
        self.points = np.asarray(points, dtype=np.float64)
        n = len(self.points)
        self.lo = self.points.min(axis=0) if n else np.zeros(2)
        span = (self.points.max(axis=0) - self.lo) if n else np.ones(2)
        self.cells = cells
        self.size = np.where(span > 0, span / cells, 1.0)
        cx, cy = self._cell(self.points)
        flat = cy * cells + cx
        self.order = np.argsort(flat, kind="stable")
        self.starts = np.searchsorted(flat[self.order], np.arange(cells * cells + 1))

    def _cell(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        c = np.floor((np.atleast_2d(xy) - self.lo) / self.size).astype(np.int64)
        c = np.clip(c, 0, self.cells - 1)
        return c[:, 0], c[:, 1]

    def nearest(self, x: float, y: float, rx: float, ry: float) -> int | None:
        """The point nearest (x, y) within the ellipse of radii ``rx``, ``ry`` (a few pixels
        on screen, in data units: the axes may be scaled differently), or None."""
        if len(self.points) == 0 or rx <= 0 or ry <= 0:
            return None
        (x0,), (y0,) = self._cell(np.array([x - rx, y - ry]))
        (x1,), (y1,) = self._cell(np.array([x + rx, y + ry]))
        rows = [
            self.order[self.starts[cy * self.cells + x0] : self.starts[cy * self.cells + x1 + 1]]
            for cy in range(y0, y1 + 1)
        ]
        near = np.concatenate(rows) if rows else np.empty(0, dtype=np.int64)
        if len(near) == 0:
            return None
        d = ((self.points[near, 0] - x) / rx) ** 2 + ((self.points[near, 1] - y) / ry) ** 2
        best = int(np.argmin(d))
        return int(near[best]) if d[best] <= 1.0 else None
