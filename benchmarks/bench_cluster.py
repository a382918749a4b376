"""`predict --cluster` against a local `predict` of the same files with the same engine (issue
26): on this machine, a Ray cluster started for the run, and a two-node cluster (two `ray start`
nodes of one CPU each on this machine).

Printed, measured in this one run:
* the local run's images/s (the Classifier, as `pigeonhole predict` runs it: ONNX Runtime fp32);
* the local cluster's start-up (ray.init), then its run: overall images/s after start-up, and
  the marginal rate (from the first rows back to the last: the actors' model loading and the
  pipeline's fill excluded), as a ratio of the local run's;
* the two-node run: start-up of both nodes, rows classified per node, images/s;
* /proc/loadavg before and after (the machine is shared: the ratios are what to read).

Every input file must be exactly one row (checked). Random weights with a fixed seed (speed does
not depend on them); generated photos.

    python benchmarks/bench_cluster.py                       # 2,000 images, resnet18
    python benchmarks/bench_cluster.py --images 600 --arch mobilenet_v2
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

from pigeonhole.core.bench.suite import load_bench_model  # noqa: E402
from pigeonhole.core.cluster.pipeline import ClusterRun  # noqa: E402
from pigeonhole.core.cluster.session import ClusterSession  # noqa: E402
from pigeonhole.core.cluster.worker import package_model  # noqa: E402
from pigeonhole.core.data.synthetic import make_photo_folder  # noqa: E402
from pigeonhole.core.runtime.inference import Classifier  # noqa: E402
from pigeonhole.core.runtime.options import RunOptions  # noqa: E402
from tests.ray_nodes import RayNodes  # noqa: E402  (ray start --block nodes, stopped by signal)


def loadavg() -> str:
    try:
        return Path("/proc/loadavg").read_text().strip()
    except OSError:
        return "n/a"


def local_run(clf: Classifier, folder: Path) -> tuple[int, float]:
    t0 = time.perf_counter()
    n = sum(len(b.predictions) for b in clf.run([folder]))
    return n, n / (time.perf_counter() - t0)


def cluster_run(where: str, package, folder: Path, num_cpus: int | None = None) -> dict:
    """Start (or join) the cluster, run, and time each part."""
    t0 = time.perf_counter()
    with ClusterSession(where, num_cpus=num_cpus) as shape:
        start_s = time.perf_counter() - t0
        job = ClusterRun(package, shape)
        t1 = time.perf_counter()
        first_t, first_n, n = None, 0, 0
        for batch in job.run([str(folder)]):
            n += len(batch.predictions)
            if first_t is None:
                first_t, first_n = time.perf_counter(), n
        t2 = time.perf_counter()
    marginal = (n - first_n) / (t2 - first_t) if first_t and t2 > first_t else 0.0
    return {
        "rows": n, "failed": job.summary.skipped, "start_s": start_s, "run_s": t2 - t1,
        "overall": n / (t2 - t1), "marginal": marginal, "first_s": (first_t or t2) - t1,
        "per_node": dict(job.rows_per_node), "sizing": job.sizing.describe(),
    }  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=2000)
    ap.add_argument("--two-node-images", type=int, default=600)
    ap.add_argument("--arch", default="resnet18")
    ap.add_argument("--size", default="320x240", help="the generated photos' size")
    args = ap.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    print(f"loadavg before: {loadavg()}")
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp:
        folder = make_photo_folder(Path(tmp) / "photos", args.images, size=size)
        small = make_photo_folder(Path(tmp) / "small", args.two_node_images, size=size)
        loaded = load_bench_model(args.arch, None)
        options = RunOptions(device="cpu", engine="onnxruntime", precision="fp32")
        clf = Classifier(loaded, options, topk=5)  # exports once (not timed)
        package = package_model(loaded, clf, options)
        print(f"{args.arch}, {args.images} photos of {args.size}; {clf.plan.describe()}")

        n, local = local_run(clf, folder)
        assert n == args.images, n
        print(f"local predict: {local:.1f} images/s")
        c = cluster_run("local", package, folder)
        assert c["rows"] == args.images and c["failed"] == 0, c
        print(f"local cluster: start-up {c['start_s']:.1f} s; {c['sizing']}")
        print(f"  first rows back after {c['first_s']:.1f} s; run {c['run_s']:.1f} s, "
              f"{c['overall']:.1f} images/s overall")  # fmt: skip
        print(f"  marginal {c['marginal']:.1f} images/s = {c['marginal'] / local:.2f}x local")
        n2, local2 = local_run(clf, folder)
        print(f"local predict again: {local2:.1f} images/s "
              f"(marginal = {c['marginal'] / local2:.2f}x this one)")  # fmt: skip

        t0 = time.perf_counter()
        nodes = RayNodes(cpus=1)
        try:
            nodes.add_node(cpus=1)
            nodes_s = time.perf_counter() - t0
            t = cluster_run(nodes.address, package, small)
        finally:
            nodes.stop()
        assert t["rows"] == args.two_node_images and t["failed"] == 0, t
        per_node = ", ".join(f"{k[:8]}: {v}" for k, v in sorted(t["per_node"].items()))
        print(f"two nodes (1 CPU each): start-up {nodes_s:.1f} s, joining {t['start_s']:.1f} s; "
              f"{t['sizing']}")  # fmt: skip
        print(f"  rows per node: {per_node}; {t['overall']:.1f} images/s overall, "
              f"marginal {t['marginal']:.1f}")  # fmt: skip
    print(f"loadavg after: {loadavg()}")


if __name__ == "__main__":
    main()
