"""Listing benchmark: a folder with 100,000 files (plus 10% non-image files).

Prints the time to the first candidate (the pipeline starts classifying then), and to the
complete listing. Files are empty: listing never opens them.

    python benchmarks/bench_listing.py [--files 100000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pigeonhole.core.data.listing import ScanStats, iter_image_files  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--files", type=int, default=100_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="pigeonhole-list-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        for i in range(args.files):
            (root / f"IMG_{i}.JPG" if i % 10 else root / f"IMG_{i}.xmp").touch()
        print(f"created {args.files} files in {time.perf_counter() - t0:.1f} s")
        stats = ScanStats()
        t0 = time.perf_counter()
        it = iter_image_files([root], stats)
        first = next(it)
        t_first = time.perf_counter() - t0
        rest = sum(1 for _ in it)
        t_all = time.perf_counter() - t0
        print(f"first result ({first.name}) after {t_first:.2f} s; all {rest + 1} candidates "
              f"({stats.ignored} other files ignored) in {t_all:.2f} s")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
