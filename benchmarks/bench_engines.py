"""Engine benchmark per architecture family, on the CPU: does the network export to ONNX, and
is ONNX Runtime faster than torch at the model-only stage (the same crops, batches, forward
threads and torch threads, fp32)? The answer decides which families `--engine auto` keeps on
torch (core/models/archs.py, ``_TORCH_ON_CPU``).

Each engine is timed --repeats times, the two interleaved (A B A B ...), and the ratio is the
median of the pairs' ratios, so a machine whose speed drifts still gives a fair ratio. Seeded
random weights (speed does not depend on the values).

    python benchmarks/bench_engines.py                       # one network per family
    python benchmarks/bench_engines.py --arch resnet50,vit_b_16 --images 32
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pigeonhole.core.bench import load_bench_model  # noqa: E402
from pigeonhole.core.errors import PigeonholeError  # noqa: E402
from pigeonhole.core.inference import Classifier  # noqa: E402
from pigeonhole.core.measure import model_only  # noqa: E402
from pigeonhole.core.models.archs import get_arch  # noqa: E402
from pigeonhole.core.synthetic import make_photo_folder  # noqa: E402

FAMILIES = (
    "resnet18,resnet50,resnext50_32x4d,wide_resnet50_2,vgg11,mobilenet_v2,mobilenet_v3_large,"
    "efficientnet_b0,efficientnet_v2_s,convnext_tiny,vit_b_16,swin_t,maxvit_t,regnet_y_400mf,"
    "densenet121,googlenet,inception_v3,squeezenet1_1,shufflenet_v2_x1_0,mnasnet1_0,alexnet"
)


def measure(arch: str, files: list[Path], repeats: int, batch: int) -> dict:
    loaded = load_bench_model(arch, None)
    spec = get_arch(arch)
    t0 = time.perf_counter()
    ort = Classifier(loaded, "cpu", "fp32", batch, engine="onnxruntime")
    export_s = time.perf_counter() - t0
    row = {"arch": arch, "family": spec.family, "exports": ort.engine == "onnxruntime",
           "note": ort.engine_note, "export_s": export_s}  # fmt: skip
    if not row["exports"]:
        return row
    torch_clf = Classifier(loaded, "cpu", "fp32", batch, engine="torch")
    pairs = []
    for _ in range(repeats):
        a, b = model_only(ort, files), model_only(torch_clf, files)
        pairs.append((a, b))
    row["ort_ips"] = statistics.median(a for a, _ in pairs)
    row["torch_ips"] = statistics.median(b for _, b in pairs)
    row["ratio"] = statistics.median(a / b for a, b in pairs)
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--arch", default=FAMILIES)
    ap.add_argument("--images", type=int, default=16)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    tmp = tempfile.TemporaryDirectory(prefix="pigeonhole-engines-")
    make_photo_folder(Path(tmp.name), args.images)
    files = sorted(Path(tmp.name).iterdir())
    print(f"{'architecture':<20} {'family':<13} {'torch':>7} {'ORT':>7} {'ORT/torch':>9}  "
          f"(model-only img/s, fp32, median of {args.repeats} interleaved pairs)")  # fmt: skip
    for arch in [a.strip() for a in args.arch.split(",") if a.strip()]:
        try:
            r = measure(arch, files, args.repeats, args.batch_size)
        except PigeonholeError as e:
            print(f"{arch:<20} error: {e}")
            continue
        if not r["exports"]:
            print(f"{arch:<20} {r['family']:<13} does not run on ONNX Runtime: {r['note']}")
            continue
        print(f"{arch:<20} {r['family']:<13} {r['torch_ips']:7.1f} {r['ort_ips']:7.1f} "
              f"{r['ratio']:8.2f}x  (export {r['export_s']:.1f} s, "
              f"load {os.getloadavg()[0]:.1f})", flush=True)  # fmt: skip
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
