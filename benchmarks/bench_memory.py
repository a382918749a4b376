"""Memory benchmark: peak RSS of a pipeline run over 20,000 images against one over 200.

The images: 200 distinct small JPEGs, hard-linked under many names to make 20,000 files (hard
links are distinct paths, so none is de-duplicated away; the page cache keeps the bytes warm,
which only makes the pipeline faster). Each run is a fresh child process, so each peak is its
own. The consumer does what the GUI does: keeps every Prediction record (without thumbnails)
and drops the rest. Goal: the 20,000-image peak no more than 300 MB above the 200-image peak.

The model is ResNet-18 with a small input (resize 64, crop 56) so 20,000 images take minutes,
not an hour; memory per image in flight does not depend on the model.

    python benchmarks/bench_memory.py                 # 200 vs 20,000
    python benchmarks/bench_memory.py --big 5000      # quicker
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def child(folder: str, n: int) -> None:
    import torch

    from pigeonhole.core.models.archs import TransformSpec, build_model
    from pigeonhole.core.models.checkpoints import LoadedModel
    from pigeonhole.core.runtime.inference import Classifier
    from pigeonhole.core.runtime.options import RunOptions

    torch.manual_seed(0)
    spec = TransformSpec(resize=64, crop=56)
    loaded = LoadedModel(
        build_model("resnet18", 10), "resnet18", [str(i) for i in range(10)], spec, "random"
    )
    kept = []
    t0 = time.perf_counter()
    clf = Classifier(loaded, RunOptions("cpu", precision="fp32"), topk=5)
    for batch in clf.run([folder]):
        kept.extend(batch.predictions)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    s = clf.summary
    assert s.processed == n, (s.processed, n)
    print(f"{n} {peak_mb:.1f} {time.perf_counter() - t0:.1f} {s.images_per_s:.1f}")


def make_folder(root: Path, n: int, distinct: int = 200) -> Path:
    from pigeonhole.core.data.synthetic import photo_like

    src = root / "_src"
    if not src.exists():
        src.mkdir(parents=True)
        for i in range(distinct):
            photo_like(i, (160, 120)).save(src / f"s{i:03d}.jpg", quality=85)
    folder = root / f"n{n}"
    sources = sorted(src.iterdir())
    for i in range(n):
        sub = folder / f"d{i // 1000:03d}"
        sub.mkdir(parents=True, exist_ok=True)
        os.link(sources[i % len(sources)], sub / f"img{i:06d}.jpg")
    return folder


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--small", type=int, default=200)
    ap.add_argument("--big", type=int, default=20_000)
    ap.add_argument("--child", nargs=2, metavar=("FOLDER", "N"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]))
        return 0
    results = {}
    with tempfile.TemporaryDirectory(prefix="pigeonhole-mem-") as tmp:
        for n in (args.small, args.big):
            folder = make_folder(Path(tmp), n)
            out = subprocess.run(
                [sys.executable, __file__, "--child", str(folder), str(n)],
                capture_output=True, text=True, check=True,
            ).stdout.split()  # fmt: skip
            results[n] = float(out[1])
            print(f"{n:>6} images: peak RSS {out[1]} MB, {out[2]} s ({out[3]} img/s)", flush=True)
    growth = results[args.big] - results[args.small]
    print(f"peak growth {args.small} -> {args.big} images: {growth:+.1f} MB (goal <= 300 MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
