"""Engine benchmark per architecture family, on the CPU: does the network export to ONNX, and
is ONNX Runtime faster than torch at the model-only stage (the same crops, batches, forward
threads and torch threads, fp32)? The answer decides which families `--engine auto` keeps on
torch (core/models/archs.py, ``_TORCH_ON_CPU``).

Two figures per engine, each the median of --repeats runs, the engines interleaved (A B A B):
* wall: model-only images/s as the product runs it (two forward threads of one core each on
  2 cores), ratio = median of the pairs' ratios;
* CPU: processor milliseconds per image of one forward thread (its own thread CPU time), the
  steadier figure on a shared machine; the decision uses this ratio.
Seeded random weights (speed does not depend on the values).

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

import torch

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pigeonhole.core.bench.measure import model_only  # noqa: E402
from pigeonhole.core.bench.suite import load_bench_model  # noqa: E402
from pigeonhole.core.data.synthetic import make_photo_folder  # noqa: E402
from pigeonhole.core.errors import PigeonholeError  # noqa: E402
from pigeonhole.core.models.archs import get_arch  # noqa: E402
from pigeonhole.core.runtime.inference import Classifier  # noqa: E402
from pigeonhole.core.runtime.options import RunOptions  # noqa: E402

FAMILIES = (
    "resnet18,resnet50,resnext50_32x4d,wide_resnet50_2,vgg11,mobilenet_v2,mobilenet_v3_large,"
    "efficientnet_b0,efficientnet_v2_s,convnext_tiny,vit_b_16,swin_t,maxvit_t,regnet_y_400mf,"
    "densenet121,googlenet,inception_v3,squeezenet1_1,shufflenet_v2_x1_0,mnasnet1_0,alexnet"
)


def cpu_ms_per_image(clf: Classifier, batches: list) -> float:
    """Thread CPU milliseconds per image of clf's forward step, on this one thread."""
    clf.forward_crops(batches[0])  # warm-up
    t0 = time.thread_time()
    for b in batches:
        clf.forward_crops(b)
    return (time.thread_time() - t0) * 1000 / sum(len(b) for b in batches)


def measure(arch: str, files: list[Path], repeats: int, batch: int) -> dict:
    loaded = load_bench_model(arch, None)
    spec = get_arch(arch)
    t0 = time.perf_counter()
    ort = Classifier(loaded, RunOptions("cpu", "onnxruntime", "fp32", batch_size=batch))
    export_s = time.perf_counter() - t0
    row = {"arch": arch, "family": spec.family, "exports": ort.engine == "onnxruntime",
           "note": ort.engine_note, "export_s": export_s}  # fmt: skip
    if not row["exports"]:
        return row
    torch_clf = Classifier(loaded, RunOptions("cpu", "torch", "fp32", batch_size=batch))
    from pigeonhole.core.data.images import load_image
    from pigeonhole.core.data.preprocessing import crop_uint8

    crops = torch.stack([crop_uint8(load_image(f), loaded.transform) for f in files])
    batches = list(crops.split(batch))
    pairs, cpu = [], []
    prev = torch.get_num_threads()
    for _ in range(repeats):
        pairs.append((model_only(ort, files), model_only(torch_clf, files)))
        torch.set_num_threads(1)  # one forward thread, as each of the product's two
        ort_one = Classifier(
            loaded, RunOptions("cpu", "onnxruntime", "fp32", batch_size=batch, streams=1)
        )
        cpu.append((cpu_ms_per_image(ort_one, batches), cpu_ms_per_image(torch_clf, batches)))
        torch.set_num_threads(prev)
    row["ort_ips"] = statistics.median(a for a, _ in pairs)
    row["torch_ips"] = statistics.median(b for _, b in pairs)
    row["ratio"] = statistics.median(a / b for a, b in pairs)
    row["ort_cpu_ms"] = statistics.median(a for a, _ in cpu)
    row["torch_cpu_ms"] = statistics.median(b for _, b in cpu)
    row["cpu_ratio"] = statistics.median(b / a for a, b in cpu)
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
    print(f"{'architecture':<20} {'family':<13} {'torch':>7} {'ORT':>7} {'wall x':>7} "
          f"{'torch ms':>8} {'ORT ms':>7} {'CPU x':>6}  (model-only img/s and CPU ms/image, "
          f"fp32, median of {args.repeats}; x = ORT's speed-up)")  # fmt: skip
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
              f"{r['ratio']:6.2f}x {r['torch_cpu_ms']:8.1f} {r['ort_cpu_ms']:7.1f} "
              f"{r['cpu_ratio']:5.2f}x  (export {r['export_s']:.1f} s, "
              f"load {os.getloadavg()[0]:.1f})", flush=True)  # fmt: skip
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
