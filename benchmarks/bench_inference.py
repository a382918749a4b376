"""Inference benchmark: the pipeline against the naive per-image loop and against model-only.

Measured in one run, on the same images and torch thread settings:
1. ResNet-18 on ~400 photo-sized JPEGs (500x375): naive loop (PIL + torchvision transforms,
   batch 1, no_grad, fp32, as the classic inference script does), model-only (preprocessed
   tensors in memory), the pipeline in fp32 and (when the CPU has fast bf16) in bf16, with
   top-1 agreement and the largest logit difference against the naive loop; plus the top-1
   agreement of Pillow draft-mode decoding with full decoding on large JPEGs.
2. ResNet-50: the pipeline's throughput as a share of model-only throughput.

Goals (2-core CPU, no GPU): fp32 pipeline >= 1.5x naive with identical top-1; bf16 pipeline
>= 2.5x naive with >= 99% identical top-1; ResNet-50 pipeline >= 85% of model-only.
Weights: ImageNet weights when cached, else seeded random weights (stated in the output).

    python benchmarks/bench_inference.py                 # 400 images (a few minutes)
    python benchmarks/bench_inference.py --images 96      # quicker
    python benchmarks/bench_inference.py --folder DIR     # your own photos
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from pigeonhole.core.bench.measure import model_only, pipeline  # noqa: E402
from pigeonhole.core.bench.suite import load_bench_model, run_bench  # noqa: E402
from pigeonhole.core.data.listing import iter_image_files  # noqa: E402
from pigeonhole.core.data.synthetic import make_photo_folder  # noqa: E402
from pigeonhole.core.runtime.inference import Classifier  # noqa: E402
from pigeonhole.core.runtime.options import RunOptions  # noqa: E402


def resnet50_share(folder: Path, n: int, batch_size: int, workers: int) -> dict:
    loaded = load_bench_model("resnet50", None)
    files = [f for _, f in zip(range(n), iter_image_files([folder]), strict=False)]
    clf = Classifier(
        loaded,
        RunOptions("cpu", precision="fp32", batch_size=batch_size, workers=workers),
        topk=1,
        keep_logits=True,
    )
    mo = model_only(clf, files)
    pipe, _, _ = pipeline(clf, files)
    print(f"resnet50 ({loaded.source}), {len(files)} images, fp32, batch {clf.batch_size}:")
    print(f"  model only {mo:.1f} img/s, pipeline {pipe:.1f} img/s = {pipe / mo:.0%} of model-only")
    return {"model_only_ips": mo, "pipeline_ips": pipe, "share": pipe / mo}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--folder", help="photos to use (default: generated 500x375 JPEGs)")
    ap.add_argument("--images", type=int, default=400)
    ap.add_argument("--r50-images", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=0)
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args()
    tmp = None
    if args.folder:
        folder = Path(args.folder)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="pigeonhole-bench-")
        folder = Path(tmp.name)
        print(f"Generating {args.images} photo-sized JPEGs (500x375)...", flush=True)
        make_photo_folder(folder, args.images)
    try:
        r18 = run_bench(
            str(folder), "resnet18", images=args.images, precision="fp32",
            batch_size=args.batch_size, workers=args.workers, extra_bf16=True,
            out=lambda s: print(s, flush=True),
        )  # fmt: skip
        r50 = resnet50_share(folder, args.r50_images, args.batch_size, args.workers)
    finally:
        if tmp is not None:
            tmp.cleanup()
    print("\nAgainst the goals:")
    for row in r18.rows:
        goal = 1.5 if row["precision"] == "fp32" else 2.5
        print(
            f"  resnet18 {row['precision']} pipeline: {row['pipeline_vs_naive']:.2f}x naive "
            f"(goal >= {goal}x), top-1 identical {row['top1_identical_pct']:.1f}%"
        )
    print(f"  resnet50 pipeline: {r50['share']:.0%} of model-only (goal >= 85%)")
    print(f"  torch threads {torch.get_num_threads()}, decode threads {r18.workers}")
    if args.json:
        Path(args.json).write_text(
            json.dumps({"resnet18": r18.to_dict(), "resnet50": r50}, indent=2)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
