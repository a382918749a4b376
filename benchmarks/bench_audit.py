"""Label audit benchmark: how many of the deliberately flipped labels the ranking puts first.

Generated learnable class folders (red/green/blue shapes on varied backgrounds) with 5 % of the
images moved into a wrong class folder. Two rankings from the same network's features:

* ours (core.insight.audit): out-of-sample probabilities from k-fold heads, confident learning
  with per-class thresholds;
* FiftyOne's mistakenness, ``(m * exp(-entropy) + 1) / 2`` with m = -1 when the prediction
  agrees with the label, else +1, computed from in-sample predictions (one head trained on all
  the images, as a model that was trained on the folder would give).

Prints the share of flipped images in the top 5 % of each ranking (goal: ours >= 80 % and
above FiftyOne's), and the time.

    python benchmarks/bench_audit.py [--per-class 100] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pigeonhole.core.insight.audit import audit_labels  # noqa: E402
from pigeonhole.core.runtime.options import RunOptions  # noqa: E402
from pigeonhole.core.tasks import run_to_end  # noqa: E402
from pigeonhole.core.training.fine_tune import TrainConfig  # noqa: E402
from pigeonhole.core.training.head import train_head  # noqa: E402
from tests.core.test_audit import flipped_folder  # noqa: E402
from tests.core.train_helpers import small_base  # noqa: E402


def mistakenness(report, features: torch.Tensor) -> np.ndarray:
    """FiftyOne's formula on in-sample predictions (a head trained on every image)."""
    y = torch.from_numpy(report.labels)
    config = TrainConfig(epochs=30, patience=0)
    outcome = run_to_end(train_head(features, y, features[:0], y[:0], len(report.classes), config))
    with torch.no_grad():
        p = outcome.head.eval()(features).softmax(1).double().numpy()
    entropy = -(p * np.log(np.clip(p, 1e-12, 1))).sum(1)
    m = np.where(p.argmax(1) == report.labels, -1.0, 1.0)
    return (m * np.exp(-entropy) + 1) / 2


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--per-class", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="pigeonhole-audit-") as tmp:
        data = Path(tmp) / "data"
        flipped = flipped_folder(data, args.per_class, 0.05, args.seed)
        base = small_base()
        t0 = time.perf_counter()
        report = run_to_end(audit_labels(base, data, RunOptions(device="cpu"), use_cache=False))
        took = time.perf_counter() - t0
        top = len(report.ranking) // 20
        ours = sum(s.path in flipped for s in report.ranking[:top]) / len(flipped)
        from pigeonhole.core.training.features import FeatureExtractor, FeatureJob

        extractor = FeatureExtractor(base.model, base.arch, base.transform, RunOptions("cpu"))
        jobs = [FeatureJob(i, Path(p)) for i, p in enumerate(report.paths)]
        features = run_to_end(extractor.extract(jobs)).features
        scores = mistakenness(report, features)
        order = np.argsort(-scores, kind="stable")
        theirs = sum(report.paths[i] in flipped for i in order[:top]) / len(flipped)
    n = len(report.ranking)
    print(f"{n} images, {len(flipped)} labels flipped (5 %); top 5 % = {top} images")
    print(f"ours (5-fold out-of-sample, confident learning): {ours:.0%} of the flipped in the top 5 %"
          f"  ({took:.1f} s, features extracted once)")  # fmt: skip
    print(f"FiftyOne's mistakenness (in-sample):              {theirs:.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
