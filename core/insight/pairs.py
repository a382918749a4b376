"""Close pairs found once and filtered many times: the search behind near duplicates.

Every row is compared with every later one in blocks (the caller gives a block's keys: cosine
similarity negated, or bits apart; smaller is closer), and the pairs at or under the loosest of
a few ``levels`` are kept, sorted by key. A threshold the person moves then takes a prefix of
them (:meth:`ClosePairs.upto`) instead of a new search. The kept pairs are bounded
(``budget``): when a level holds more, the search drops to the next lower level, and
:attr:`ClosePairs.limit` says up to which key the pairs are all there. Groups are the connected
components of the pairs, found with numpy (:func:`components`), not a loop per pair."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import DataError
from ..tasks import StopFlag, stop_check

PAIR_BUDGET = 5_000_000  # kept pairs (about 12 bytes each): 60 MB


class TooManyPairs(DataError):
    """Even the closest level holds more pairs than can be kept (a threshold that joins
    nearly everything): the message says to lower it."""


@dataclass(frozen=True, slots=True)
class ClosePairs:
    """Pairs ``first[k] < second[k]`` of row numbers, ``key`` ascending; every pair of the rows
    with a key at or under ``limit`` is here (``limit`` is one of the search's levels)."""

    first: np.ndarray
    second: np.ndarray
    key: np.ndarray
    limit: float

    def upto(self, limit: float) -> tuple[np.ndarray, np.ndarray]:
        """The pairs with a key at or under ``limit`` (capped at :attr:`limit`)."""
        n = int(np.searchsorted(self.key, min(limit, self.limit), side="right"))
        return self.first[:n], self.second[:n]

    def __len__(self) -> int:
        return len(self.key)


def search_pairs(
    rows: int,
    keys_of: Callable[[int, int], np.ndarray],
    levels: Sequence[float],
    block: int,
    budget: int = PAIR_BUDGET,
    should_stop: StopFlag = None,
) -> ClosePairs | None:
    """The close pairs among ``rows`` rows: ``keys_of(start, stop)`` gives rows
    ``start:stop`` against rows ``start:`` (a (stop - start, rows - start) array, any dtype
    whose order is closeness). None when stopped; TooManyPairs when the lowest level alone
    holds more than ``budget`` pairs."""
    stop = stop_check(should_stop)
    levels = sorted(levels)
    at = len(levels) - 1
    kept = _Kept()
    every = rows * (rows - 1) / 2
    for start in range(0, rows, block):
        if stop():
            return None
        keys = keys_of(start, min(rows, start + block))
        _hide_lower_triangle(keys)
        seen = every - (rows - start - len(keys)) * (rows - start - len(keys) - 1) / 2
        # A level whose pairs so far foretell more than the budget by the end is left at
        # once (not filled up and emptied again, block after block).
        close = keys <= levels[at]
        while (count := np.count_nonzero(close)) + kept.size > budget or (
            at > 0 and (count + kept.size) * every / max(seen, 1) > budget
        ):
            if at == 0:
                raise TooManyPairs(
                    f"more than {budget:,} pairs of images are this close: lower the threshold "
                    "(at this distance most images count as the same picture)"
                )
            at -= 1
            kept.drop_above(levels[at])
            close = keys <= levels[at]
        if count:
            r, c = np.nonzero(close)
            kept.add(r + start, c + start, keys[r, c])
    return kept.pairs(levels[at])


def _hide_lower_triangle(keys: np.ndarray) -> None:
    """Mark each row's pairs with itself and earlier rows (the block's first columns) as far."""
    n = min(keys.shape)
    far = np.inf if keys.dtype.kind == "f" else np.iinfo(keys.dtype).max
    for r in range(n):
        keys[r, : r + 1] = far


class _Kept:
    """The pairs found so far, in chunks (one per block)."""

    def __init__(self) -> None:
        self.chunks: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.size = 0

    def add(self, first, second, key) -> None:
        self.chunks.append((first.astype(np.int32), second.astype(np.int32), key))
        self.size += len(key)

    def drop_above(self, limit) -> None:
        self.chunks = [(f[k <= limit], s[k <= limit], k[k <= limit]) for f, s, k in self.chunks]
        self.size = sum(len(k) for _f, _s, k in self.chunks)

    def pairs(self, limit) -> ClosePairs:
        if not self.chunks:
            none = np.zeros(0, np.int32)
            return ClosePairs(none, none, np.zeros(0), limit)
        first, second, key = (np.concatenate(parts) for parts in zip(*self.chunks, strict=True))
        order = np.argsort(key, kind="stable")
        return ClosePairs(first[order], second[order], key[order], limit)


def components(n: int, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Each of ``n`` rows' component, named by its smallest row, under the links
    ``first[k]-second[k]``: hooking each root under its smallest neighbour's, then halving
    paths, until nothing moves (a few rounds; numpy throughout)."""
    label = np.arange(n)
    first, second = np.asarray(first, np.intp), np.asarray(second, np.intp)
    while len(first):
        a, b = label[first], label[second]
        differ = a != b
        if not differ.any():
            break
        a, b = a[differ], b[differ]
        low = np.minimum(a, b)
        np.minimum.at(label, a, low)
        np.minimum.at(label, b, low)
        while not np.array_equal(jumped := label[label], label):
            label = jumped
        first, second = first[differ], second[differ]
    return label


def grouped(labels: np.ndarray) -> list[list[int]]:
    """Rows sharing a label, of groups of two or more, in the order of their first row."""
    shared = np.flatnonzero(np.bincount(labels, minlength=len(labels))[labels] > 1)
    order = shared[np.argsort(labels[shared], kind="stable")]
    bounds = np.flatnonzero(np.diff(labels[order])) + 1
    groups = [g.tolist() for g in np.split(order, bounds)] if len(order) else []
    return sorted(groups, key=lambda g: g[0])
