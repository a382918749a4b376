"""What keeping heat maps and embeddings costs a run (issue 24's goal: >= 95 % of the
throughput without them), on the CPU: the run with ``Keep()`` against the run without, the
Classifier the window uses, for each architecture, head size and engine; then the memory kept
per image and per 50,000 images. The same measurement as `pigeonhole bench --keep`
(core.bench.keep), without the rest of the bench. Seeded random weights (speed and memory do
not depend on the values): a 1000-class head (the graph makes its 5 best classes' maps) and a
10-class head (every class's map).

    python benchmarks/bench_keep.py                                   # resnet18, resnet50
    python benchmarks/bench_keep.py --arch resnet50 --classes 1000 --repeats 6 --int8
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pigeonhole.commands.bench import kept_table  # noqa: E402
from pigeonhole.core.bench.keep import keep_costs  # noqa: E402
from pigeonhole.core.bench.suite import load_bench_model  # noqa: E402
from pigeonhole.core.data.synthetic import make_photo_folder  # noqa: E402
from pigeonhole.core.runtime.inference import Classifier  # noqa: E402
from pigeonhole.core.runtime.options import RunOptions  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", default="resnet18,resnet50")
    ap.add_argument("--classes", default="1000,10")
    ap.add_argument("--images", type=int, default=48)
    ap.add_argument("--repeats", type=int, default=4)
    ap.add_argument("--int8", action="store_true", help="ONNX Runtime int8 too")
    args = ap.parse_args()
    runs = [("fp32", "torch"), ("fp32", "onnxruntime")] + [("int8", "onnxruntime")] * args.int8
    kept = []
    with tempfile.TemporaryDirectory(prefix="bench-keep-") as tmp:
        folder = make_photo_folder(Path(tmp), args.images)
        files = sorted(folder.iterdir())
        for arch in args.arch.split(","):
            for classes in (int(c) for c in args.classes.split(",")):
                loaded = load_bench_model(arch, None, None, classes)
                print(f"{arch}, {classes} classes, {len(files)} images, load {os.getloadavg()}")

                def classifier(prec: str, eng: str, loaded=loaded, **kw) -> Classifier:
                    options = RunOptions("cpu", eng, prec)
                    return Classifier(loaded, options, calibration=[folder], **kw)

                rows = keep_costs(classifier, runs, files, args.repeats)
                kept += [(arch, row) for row in rows]
    print()
    print(kept_table(kept))


if __name__ == "__main__":
    main()
