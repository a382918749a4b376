"""Duplicates benchmark: how well the perceptual hash finds edited copies, and how fast it
groups a big folder.

1. Quality: generated photos (a coloured shape on a photo-like background), each with four
   made copies (resized to 50 %, JPEG quality 40, cropped to 90 %, colour-shifted), mixed with
   as many photos without copies: recall and precision of the duplicate pairs, per threshold.
2. Scale: 50,000 images' hashes (the hashed photos, filled up with random hashes, which are
   harder to tell apart than none), grouped by find_duplicates, and one image looked up against
   all of them. Hashing itself costs a draft decode per image (printed per image).
3. Embeddings: 50,000 512-d vectors searched once for the window's whole slider, then grouped
   at each of its positions (what moving the slider costs).

    python benchmarks/bench_similarity.py [--photos 40] [--images 50000]
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pigeonhole.core.insight.duplicate_options import DEFAULT_THRESHOLD, MAX_THRESHOLD  # noqa: E402
from pigeonhole.core.insight.duplicates import (  # noqa: E402
    DuplicatePairs,
    ImageHash,
    close_pairs,
    duplicate_pairs,
    find_duplicates,
    group_duplicates,
    hash_arrays,
    hash_file,
)
from pigeonhole.core.insight.vectors import vector_pairs  # noqa: E402
from tests.core.test_duplicates import made_copies, photo  # noqa: E402

SLIDER = [step / 100 for step in range(31)]  # the Near duplicates window's embedding slider


def quality(folder: Path, photos: int) -> list[ImageHash]:
    groups, files = [], []
    for i in range(photos):
        img = photo(i)
        members = [folder / f"p{i}.jpg"]
        img.save(members[0], quality=92)
        for kind, (copy, q) in made_copies(img).items():
            members.append(folder / f"p{i}_{kind}.jpg")
            copy.save(members[-1], quality=q)
        groups.append(members)
        files += members
    for i in range(photos):
        files.append(folder / f"single{i}.jpg")
        photo(10_000 + i).save(files[-1], quality=90)
    t0 = time.perf_counter()
    hashes = [hash_file(f) for f in files]
    per_image = (time.perf_counter() - t0) / len(files) * 1000
    same = {frozenset(map(str, p)) for g in groups for p in itertools.combinations(g, 2)}
    print(f"{len(files)} images ({photos} photos x 5, {photos} without copies); "
          f"hashing: {per_image:.1f} ms per 640x480 JPEG")  # fmt: skip
    print(f"{'threshold':>9} {'recall':>7} {'precision':>9}")
    for t in range(4, 21, 2):
        found = find_duplicates(hashes, t)
        got = {
            frozenset(p)
            for g in found
            for p in itertools.combinations([m.path for m in g.members], 2)
        }
        hit = len(same & got)
        mark = "  <- default" if t == DEFAULT_THRESHOLD else ""
        print(f"{t:>9} {hit / len(same):>7.1%} {hit / max(1, len(got)):>9.1%}{mark}")
    return hashes


def scale(hashes: list[ImageHash], n: int) -> tuple[list[ImageHash], DuplicatePairs]:
    rng = np.random.default_rng(0)
    real = hash_arrays(hashes)
    filler = rng.integers(0, 2**63, size=(n - len(real), 2), dtype=np.uint64)
    filler[:, 1] = filler[:, 0] ^ rng.integers(
        0, 2**63, size=n - len(real), dtype=np.uint64
    ) & np.uint64(0xFF)
    rows = np.concatenate([real, filler])
    fake = [ImageHash(f"f{i}", f"c{i}", int(a), int(b), 1, 1) for i, (a, b) in enumerate(rows)]
    t0 = time.perf_counter()
    groups = find_duplicates(fake)
    took = time.perf_counter() - t0
    t0 = time.perf_counter()
    pairs = duplicate_pairs(fake, bits=range(MAX_THRESHOLD + 1))
    slider = time.perf_counter() - t0
    t0 = time.perf_counter()
    for q in range(20):
        list(close_pairs(rows[q : q + 1], rows, DEFAULT_THRESHOLD))
    query_ms = (time.perf_counter() - t0) / 20 * 1000
    print(f"{n:,} images grouped in {took:.1f} s ({len(groups)} groups; goal <= 30 s); "
          f"one image against all: {query_ms:.1f} ms (goal <= 5 ms)")  # fmt: skip
    print(f"  pairs for every position of the bits slider found once in {slider:.1f} s "
          f"({len(pairs.pictures):,} pairs, complete up to {pairs.pictures.limit:g} bits)")  # fmt: skip
    return fake, pairs


def embedding_scale(fake: list[ImageHash], pairs: DuplicatePairs, dim: int = 512) -> None:
    """Grouping by embedding (core.insight.vectors: unit float32 rows, blocked BLAS products
    against every later row): float16 vectors like a run keeps, a tenth of them noisy copies
    of others (cosine distance about 0.005 to 0.15); the pairs for every position of the
    window's slider found once, then the groups at each position."""
    n = len(fake)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(n, dim)).astype(np.float32)
    copies = rng.choice(n, n // 10, replace=False)
    x[copies] = (
        x[copies - 1]
        + rng.uniform(0.1, 0.6, (len(copies), 1))
        * rng.normal(size=(len(copies), dim))
        / np.sqrt(dim)
        * 3
    )
    x = x.astype(np.float16)
    blas = bare_products(x)  # (the search's cost is all in them)
    t0 = time.perf_counter()
    vectors = vector_pairs(x, SLIDER)
    took = time.perf_counter() - t0
    both = DuplicatePairs(pairs.exact, pairs.pictures, vectors, pairs.rows)
    took_each, sizes = [], []
    for cosine in SLIDER:
        t0 = time.perf_counter()
        sizes.append(len(group_duplicates(fake, both, DEFAULT_THRESHOLD, cosine, x)))
        took_each.append(time.perf_counter() - t0)
    print(f"{n:,} embeddings ({dim}-d) searched for close pairs in {took:.1f} s, once for the "
          f"whole slider (0 to {SLIDER[-1]:.2f}; {len(vectors):,} pairs; goal <= 30 s; "
          f"{n * n / 2 / took / 1e6:.0f} M pairs/s)")  # fmt: skip
    print(f"  the same products alone, at this machine's speed now: {blas:.1f} s "
          f"({n * n * dim / blas / 1e9:.0f} GFLOP/s): the search takes {took / blas:.2f}x that")  # fmt: skip
    print(f"  regrouping at each slider position: median {np.median(took_each) * 1000:.0f} ms, "
          f"at most {max(took_each) * 1000:.0f} ms (goal < 100 ms; "
          f"{sizes[0]:,} to {sizes[-1]:,} groups)")  # fmt: skip


def bare_products(x: np.ndarray, rows: int = 10_000, block: int = 1024) -> float:
    """Seconds the BLAS products of every row with every later one would take alone, from
    those of the first ``rows`` rows (the same blocks, nothing else done) scaled to all: what
    the search can at best be on this machine at this moment (other work on it slows both)."""
    u = x[:rows].astype(np.float32)
    t0 = time.perf_counter()
    for start in range(0, len(u), block):
        u[start : start + block] @ u[start:].T
    return (time.perf_counter() - t0) * (len(x) / len(u)) ** 2


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--photos", type=int, default=40)
    ap.add_argument("--images", type=int, default=50_000)
    ap.add_argument(
        "--vectors", type=int, default=1, help="group the images by embedding too (0: no)"
    )
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="pigeonhole-dups-") as tmp:
        hashes = quality(Path(tmp), args.photos)
    fake, pairs = scale(hashes, args.images)
    if args.vectors:
        embedding_scale(fake, pairs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
