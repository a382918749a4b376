"""Duplicates among image files, found without a model: exact copies by content hash, edited
copies (resized, recompressed, cropped a little, colour-shifted) by a 64-bit perceptual hash.

The perceptual hash is the classic DCT hash: the image (EXIF orientation applied) made grey and
32x32, its 2-D DCT, and one bit per low frequency (the 8x8 block of the lowest) for "above the
block's median". Edits that keep what a photo shows keep most bits; different photos differ in
about half. A crop changes the scale, which the plain hash does not survive well (a 90 % crop
moved up to 18 bits), so each image also has the hash of its central 90 %, and two images are
as close as the closest of (whole, whole), (whole, centre) and (centre, whole): a 90 % crop is
then within a few bits of its original. Two images are near duplicates when they are at most
``threshold`` bits apart. Pairs are found by comparing every hash with every later one in blocks
(one XOR and a bit count per pair, vectorised; core.insight.pairs): 50,000 images are about
1.25 billion pairs, seconds on a laptop (benchmarks/bench_similarity.py), and exact, unlike an
approximate index; found once, they are grouped again at any threshold in milliseconds.

Decoding uses JPEG draft mode (a 1/8-scale decode for a big photo), so hashing a folder costs a
fraction of classifying it."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
from PIL import Image

from ..data.images import load_image
from ..errors import ImageLoadError
from ..tasks import StopFlag, stop_check
from .duplicate_options import DEFAULT_THRESHOLD, MAX_THRESHOLD
from .pairs import ClosePairs, components, grouped, search_pairs
from .vectors import DEFAULT_COSINE, cosine_key, unit_rows, vector_pairs

HASH_SIDE = 32  # the grey thumbnail the DCT is taken of
_BLOCK = 256  # rows compared at once: a (256, N) block of uint64 (100 MB at N = 50,000)


@dataclass(frozen=True, slots=True)
class ImageHash:
    """One file's hashes: its bytes' (exact copies) and its picture's (near copies)."""

    path: str
    content: str  # blake2b of the file's bytes
    phash: int  # 64-bit perceptual hash of the whole image
    inner: int  # ... and of its central 90 % (a cropped copy's whole matches it)
    pixels: int  # width x height: a group keeps its largest image...
    size: int  # ...and of equal ones the biggest file (the least compressed)


@dataclass(frozen=True, slots=True)
class HashFailure:
    path: str
    error: str


@dataclass(frozen=True, slots=True)
class Member:
    """One image of a duplicate group: ``kind`` is "keep" (the group's largest image, the one a
    person would keep), "exact" (the same bytes as the kept one), "near" (``distance``: bits of
    its perceptual hash that differ from the kept one's) or "similar" (joined by its embedding:
    ``distance`` is the cosine distance of its vector to the kept one's)."""

    path: str
    kind: str
    distance: float


@dataclass(frozen=True, slots=True)
class DuplicateGroup:
    members: tuple[Member, ...]

    @property
    def keep(self) -> str:
        return self.members[0].path

    @property
    def copies(self) -> tuple[Member, ...]:
        return self.members[1:]


@cache
def _dct_matrix(n: int = HASH_SIDE) -> np.ndarray:
    """The orthonormal DCT-II matrix: ``C @ x`` is the DCT of the columns of ``x``."""
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    c = np.cos(np.pi * (2 * i + 1) * k / (2 * n)) * np.sqrt(2 / n)
    c[0] /= np.sqrt(2)
    return c


INNER = 0.05  # the border left out of the inner hash, on each side


def perceptual_hash(img: Image.Image, border: float = 0.0) -> int:
    """The 64-bit DCT hash of an image (any mode and size); ``border``: the share of width and
    height left out on each side first."""
    if border:
        w, h = img.size
        box = (
            round(w * border),
            round(h * border),
            round(w * (1 - border)),
            round(h * (1 - border)),
        )
        img = img.crop(box)
    grey = img.convert("L").resize((HASH_SIDE, HASH_SIDE), Image.Resampling.BOX)
    x = np.asarray(grey, dtype=np.float64)
    c = _dct_matrix()
    low = (c @ x @ c.T)[:8, :8].ravel()
    bits = low > np.median(low)
    return int(np.packbits(bits).view(">u8")[0])


def content_hash(path: str | os.PathLike) -> str:
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def hash_file(path: str | os.PathLike) -> ImageHash:
    """Both hashes of one image file. Raises ImageLoadError (with the reason) when it is not
    a readable image."""
    img = load_image(path, draft_size=HASH_SIDE * 2)
    try:
        return ImageHash(
            str(path),
            content_hash(path),
            perceptual_hash(img),
            perceptual_hash(img, INNER),
            _pixels(path, img),
            os.path.getsize(path),
        )
    except OSError as e:
        raise ImageLoadError(f"cannot read the file: {e.strerror or e}") from None


def _pixels(path, img: Image.Image) -> int:
    """The image's full size (a draft decode is smaller than the file)."""
    try:
        with Image.open(path) as full:
            w, h = full.size
    except OSError:
        w, h = img.size
    return w * h


def hash_files(
    paths: Iterable[str | os.PathLike],
    should_stop: StopFlag = None,
    progress: Callable[[int], None] | None = None,
) -> Iterator[ImageHash | HashFailure]:
    """Hash each file in turn (a bad file is a HashFailure with its reason, never an abort)."""
    stop = stop_check(should_stop)
    for n, path in enumerate(paths, 1):
        if stop():
            return
        try:
            yield hash_file(path)
        except ImageLoadError as e:
            yield HashFailure(str(path), str(e))
        if progress is not None:
            progress(n)


def hash_in_batches(
    paths: Sequence[str | os.PathLike],
    size: int = 256,
    should_stop: StopFlag = None,
    progress: Callable[[int, int], None] | None = None,
) -> Iterator[tuple[ImageHash | HashFailure, ...]]:
    """:func:`hash_files` a batch at a time (a window's worker reports per batch, not per
    image); ``progress(done, total)``."""
    batch: list[ImageHash | HashFailure] = []
    report = (lambda n: progress(n, len(paths))) if progress is not None else None
    for h in hash_files(paths, should_stop, report):
        batch.append(h)
        if len(batch) >= size:
            yield tuple(batch)
            batch = []
    if batch:
        yield tuple(batch)


def _check_threshold(threshold: int) -> int:
    if not 0 <= int(threshold) <= MAX_THRESHOLD:
        raise ValueError(f"the threshold must be from 0 to {MAX_THRESHOLD} bits, not {threshold}")
    return int(threshold)


def hash_arrays(hashes: Sequence[ImageHash]) -> np.ndarray:
    """(N, 2) uint64: each image's whole and inner hash."""
    return np.array([(h.phash, h.inner) for h in hashes], dtype=np.uint64).reshape(-1, 2)


def close_pairs(
    a: np.ndarray, b: np.ndarray | None = None, threshold: int = DEFAULT_THRESHOLD
) -> Iterator[tuple[int, int, int]]:
    """(i, j, distance) for every pair of images within ``threshold`` bits: within ``a``
    (i < j) when ``b`` is None, else between ``a[i]`` and ``b[j]``. Rows are (whole, inner)
    hashes (:func:`hash_arrays`); a 1-D array is whole hashes only."""
    threshold = _check_threshold(threshold)
    a = np.ascontiguousarray(a, dtype=np.uint64)
    a = a.reshape(-1, 1) if a.ndim == 1 else a
    other = a if b is None else np.ascontiguousarray(b, dtype=np.uint64)
    other = other.reshape(-1, 1) if other.ndim == 1 else other
    for start in range(0, len(a), _BLOCK):
        block = a[start : start + _BLOCK]
        dist = _distances(block, other)
        rows, cols = np.nonzero(dist <= threshold)
        for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
            i = start + r
            if b is None and c <= i:
                continue
            yield i, c, int(dist[r, c])


def _distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) bits apart."""
    return _closest(a[:, None], b[None, :])


def _closest(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Bits apart of broadcast (..., 2) hash rows: the closest of whole-whole, whole-inner and
    inner-whole."""
    dist = np.bitwise_count(a[..., 0] ^ b[..., 0])
    if a.shape[-1] > 1 and b.shape[-1] > 1:
        np.minimum(dist, np.bitwise_count(a[..., 0] ^ b[..., 1]), out=dist)
        np.minimum(dist, np.bitwise_count(a[..., 1] ^ b[..., 0]), out=dist)
    return dist


@dataclass(frozen=True, slots=True)
class DuplicatePairs:
    """What grouping needs, searched once (:func:`duplicate_pairs`) and filtered at any
    threshold the search covered (:func:`group_duplicates`): the same bytes (``exact``, each
    image with the first of its content), pictures by bits apart and, with embeddings, vectors
    by cosine. ``pictures.limit`` (bits) and ``vectors.limit`` (a :func:`cosine_key`) say how
    far the pairs are complete."""

    exact: tuple[np.ndarray, np.ndarray]
    pictures: ClosePairs
    vectors: ClosePairs | None
    rows: np.ndarray  # hash_arrays(hashes): the bits shown for a group's members


def duplicate_pairs(
    hashes: Sequence[ImageHash],
    embeddings: np.ndarray | None = None,
    bits: Sequence[int] = (DEFAULT_THRESHOLD,),
    distances: Sequence[float] = (DEFAULT_COSINE,),
    should_stop: StopFlag = None,
) -> DuplicatePairs | None:
    """The pairs within the largest of ``bits`` and of ``distances`` (``embeddings``: (N, D),
    a row per hash; a row of zeros: none). None when stopped; TooManyPairs when even the
    smallest threshold joins more pairs than can be kept."""
    if embeddings is not None and len(embeddings) != len(hashes):
        raise ValueError(f"{len(embeddings)} embeddings for {len(hashes)} images")
    rows = hash_arrays(hashes)
    levels = [_check_threshold(b) for b in bits]

    def keys_of(start: int, stop: int) -> np.ndarray:
        return _distances(rows[start:stop], rows[start:])

    pictures = search_pairs(len(rows), keys_of, levels, _BLOCK, should_stop=should_stop)
    vectors = None
    if embeddings is not None and pictures is not None:
        vectors = vector_pairs(embeddings, distances, should_stop)
        if vectors is None:
            return None
    if pictures is None:
        return None
    by_content: dict[str, int] = {}
    first = [by_content.setdefault(h.content, i) for i, h in enumerate(hashes)]
    exact = np.array(first, dtype=np.intp), np.arange(len(hashes))
    return DuplicatePairs(exact, pictures, vectors, rows)


def group_duplicates(
    hashes: Sequence[ImageHash],
    pairs: DuplicatePairs,
    threshold: int = DEFAULT_THRESHOLD,
    max_cosine: float = DEFAULT_COSINE,
    embeddings: np.ndarray | None = None,
) -> list[DuplicateGroup]:
    """The groups at ``threshold`` bits and ``max_cosine`` among the pairs found once (each
    capped at what the search covered): milliseconds, so a slider can move freely."""
    links = [pairs.exact, pairs.pictures.upto(_check_threshold(threshold))]
    if pairs.vectors is not None:
        links.append(pairs.vectors.upto(cosine_key(max_cosine)))
    first = np.concatenate([a for a, _b in links])
    second = np.concatenate([b for _a, b in links])
    labels = components(len(hashes), first, second)
    return _groups(hashes, grouped(labels), threshold, embeddings, pairs.rows)


def find_duplicates(
    hashes: Sequence[ImageHash],
    threshold: int = DEFAULT_THRESHOLD,
    embeddings: np.ndarray | None = None,
    max_cosine: float = DEFAULT_COSINE,
    should_stop: StopFlag = None,
) -> list[DuplicateGroup]:
    """Groups of the same picture: exact copies, near copies within ``threshold`` bits and,
    given ``embeddings`` ((N, D), a row per hash; a row of zeros: none), images whose vectors
    are within ``max_cosine`` cosine distance; joined transitively. Each group's first member
    is its largest image (of equal ones, the biggest file); groups come in the order of their
    first file. Empty when stopped."""
    pairs = duplicate_pairs(hashes, embeddings, (threshold,), (max_cosine,), should_stop)
    if pairs is None:
        return []
    return group_duplicates(hashes, pairs, threshold, max_cosine, embeddings)


def _groups(
    hashes: Sequence[ImageHash],
    groups: list[list[int]],
    threshold: int,
    embeddings: np.ndarray | None,
    rows: np.ndarray,
) -> list[DuplicateGroup]:
    """Each group with its kept image first and how far each other member is from it (bits,
    and cosine where only the embeddings join it), measured for all groups at once."""
    keeps = [max(idx, key=lambda i: (hashes[i].pixels, hashes[i].size, -i)) for idx in groups]
    others = [[i for i in idx if i != keep] for idx, keep in zip(groups, keeps, strict=True)]
    first = np.array([i for o in others for i in o], dtype=np.intp)
    second = np.repeat(np.array(keeps, dtype=np.intp), [len(o) for o in others])
    bits = _closest(rows[first], rows[second]).tolist()
    far = _cosines(embeddings, first, second) if embeddings is not None else None
    out, k = [], 0
    for keep, members in zip(keeps, others, strict=True):
        group = [Member(hashes[keep].path, "keep", 0)]
        for i in members:
            h = hashes[i]
            if h.content == hashes[keep].content:
                group.append(Member(h.path, "exact", 0))
            elif far is None or bits[k] <= threshold:
                group.append(Member(h.path, "near", bits[k]))
            else:
                group.append(Member(h.path, "similar", far[k]))
            k += 1
        out.append(DuplicateGroup(tuple(group)))
    return out


def _cosines(embeddings: np.ndarray, first: np.ndarray, second: np.ndarray) -> list[float]:
    """Cosine distance of each pair of rows' vectors (1.0 where either has none: unrelated)."""
    a, b = unit_rows(embeddings[first]), unit_rows(embeddings[second])
    far = np.maximum(0.0, 1.0 - np.einsum("ij,ij->i", a, b))
    far[~(a.any(axis=1) & b.any(axis=1))] = 1.0
    return np.round(far, 4).tolist()


def hash_distance(a: ImageHash, b: ImageHash) -> int:
    """Bits apart of two images' perceptual hashes (the closest of whole and inner)."""
    return int(_distances(hash_arrays([a]), hash_arrays([b]))[0, 0])


@dataclass(frozen=True, slots=True)
class Leak:
    """An evaluation image that is (nearly) a training image."""

    path: str
    train_path: str
    kind: str  # "exact" | "near"
    distance: int


def find_leaks(
    evaluated: Sequence[ImageHash],
    training: Sequence[ImageHash],
    threshold: int = DEFAULT_THRESHOLD,
) -> list[Leak]:
    """Each evaluation image with a copy in the training set (its closest one), in order."""
    train_by_content = {h.content: h.path for h in training}
    found: dict[int, Leak] = {}
    for i, h in enumerate(evaluated):
        if h.content in train_by_content:
            found[i] = Leak(h.path, train_by_content[h.content], "exact", 0)
    a, b = hash_arrays(evaluated), hash_arrays(training)
    if len(a) and len(b):
        for i, j, d in close_pairs(a, b, threshold):
            best = found.get(i)
            if best is None or (best.kind == "near" and d < best.distance):
                found[i] = Leak(evaluated[i].path, training[j].path, "near", d)
    return [found[i] for i in sorted(found)]


def hashes_of(paths: Iterable[str | os.PathLike], should_stop: StopFlag = None) -> list[ImageHash]:
    """The hashes of the readable images among ``paths`` (unreadable ones are left out)."""
    return [h for h in hash_files(paths, should_stop) if isinstance(h, ImageHash)]


def is_near_copy(a: ImageHash, b: ImageHash, threshold: int = DEFAULT_THRESHOLD) -> bool:
    """Whether two images are the same picture: the same bytes, or hashes within
    ``threshold`` bits (what a review skips so that it never shows one photo twice in a row)."""
    return a.content == b.content or hash_distance(a, b) <= threshold
