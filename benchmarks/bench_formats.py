"""Phone-size photos: decode cost per format, and throughput on a folder of 12 MP photos.

Prints the decode table (decode + resize + crop at the model's input, one thread, median) and
the issue's goals as ratios measured in this one run:

* a 12 MP JPEG (4032x3024) at a 224 input costs <= 3x a 500x375 JPEG (draft mode);
* a 12 MP HEIC costs <= 5x a 500x375 JPEG;
* the pipeline's images/s on a folder of 12 MP JPEGs is >= 70 % of that on 500x375 JPEGs
  (ResNet-18, the automatic engine and threads, on this machine's device).

Photos are generated with sensor-like grain (a 12 MP JPEG is ~3 MB, as a phone's is); the
12 MP folder holds copies of a few photos, so generating it stays quick.

    python benchmarks/bench_formats.py [--images 48] [--arch resnet18] [--device auto]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pigeonhole.core.bench.formats import (  # noqa: E402
    DECODE_SAMPLES,
    TWELVE_MP,
    decode_costs,
    format_row,
    table_head,
)
from pigeonhole.core.bench.suite import load_bench_model  # noqa: E402
from pigeonhole.core.data.samples import phone_photo  # noqa: E402
from pigeonhole.core.runtime.inference import Classifier  # noqa: E402
from pigeonhole.core.runtime.options import RunOptions  # noqa: E402
from pigeonhole.core.tasks import run_to_end  # noqa: E402


def folder_of(root: Path, n: int, size: tuple[int, int], distinct: int) -> Path:
    """``n`` JPEGs of ``size``: ``distinct`` photos, then copies under other names."""
    root.mkdir(parents=True)
    made = []
    for i in range(n):
        path = root / f"IMG_{i:04d}.JPG"
        if i < distinct:
            phone_photo(i, size).save(path, "JPEG", quality=90)
            made.append(path)
        else:
            shutil.copyfile(made[i % distinct], path)
    return root


def images_per_s(clf: Classifier, folder: Path) -> float:
    run_to_end(clf.run([folder]))  # warm: the page cache, the engine's first batches
    t0 = time.perf_counter()
    summary = run_to_end(clf.run([folder]))
    return summary.processed / (time.perf_counter() - t0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=48, help="photos per folder")
    ap.add_argument("--arch", default="resnet18")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    loaded = load_bench_model(args.arch, None)
    spec = loaded.transform
    print(f"{loaded.arch} ({loaded.source}); {loaded.preprocessing_line()}")
    print(table_head(spec))
    costs = {r.name: r for r in decode_costs(spec, args.repeats, DECODE_SAMPLES)}
    for row in costs.values():
        print(format_row(row))
    small = costs["JPEG 500x375"].ms
    print("\ngoals (ratios measured in this run):")
    for name, goal in (("JPEG 12 MP", 3.0), ("HEIC 12 MP", 5.0)):
        if name in costs:
            ratio = costs[name].ms / small
            verdict = "met" if ratio <= goal else "NOT met"
            print(f"  {name} / JPEG 500x375 decode: {ratio:5.1f}x (goal <= {goal:.0f}x): {verdict}")
    with tempfile.TemporaryDirectory(prefix="pigeonhole-phone-") as tmp:
        small_dir = folder_of(Path(tmp) / "small", args.images, (500, 375), args.images)
        big_dir = folder_of(Path(tmp) / "big", args.images, TWELVE_MP, min(4, args.images))
        clf = Classifier(loaded, RunOptions(device=args.device), topk=1)
        ips_small = images_per_s(clf, small_dir)
        ips_big = images_per_s(clf, big_dir)
    share = ips_big / ips_small
    verdict = "met" if share >= 0.7 else "NOT met"
    print(
        f"  pipeline, {args.images} photos, {clf.engine} {clf.precision} on {clf.device}, "
        f"{clf.workers} decode threads: 500x375 {ips_small:.1f} img/s, 12 MP {ips_big:.1f} "
        f"img/s = {share:.0%} (goal >= 70%): {verdict}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
