"""`predict --cluster` against a local `predict` of the same files with the same engine (issue
26): on this machine, a Ray cluster started for the run, and a two-node cluster (two `ray start`
nodes of one CPU each on this machine).

Marginal throughput: each side classifies the first --first photos, then all --images, and the
rate is the difference (images) over the difference (seconds). What every run pays once (Ray
Data starting its tasks and actors, each actor loading the model, the pipeline filling) cancels
out; what each image costs remains. The cluster's own start-up (ray.init) is printed apart.

Printed, measured in this one run:
* the local run (the Classifier, as `pigeonhole predict` runs it: ONNX Runtime fp32): its
  marginal rate, and its overall rate on all the photos;
* the local cluster: start-up, then per run the time to the first rows back and the overall
  rate, and the marginal rate as a ratio of the local run's;
* the two-node run: start-up of both nodes, rows classified per node, overall rate;
* /proc/loadavg before and after (the machine is shared: the ratios are what to read).

Every input file must be exactly one row (checked). Random weights with a fixed seed (speed does
not depend on them); generated photos.

    python benchmarks/bench_cluster.py                       # 500 then 2,000 photos, resnet18
    python benchmarks/bench_cluster.py --images 1000 --first 250 --arch mobilenet_v2
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


def local_run(clf: Classifier, files: list[str]) -> float:
    """Seconds to classify ``files`` locally (every file one row, checked)."""
    t0 = time.perf_counter()
    n = sum(len(b.predictions) for b in clf.run(files))
    assert n == len(files), n
    return time.perf_counter() - t0


def cluster_run(shape, package, files: list[str]) -> dict:
    """Classify ``files`` on the connected cluster: seconds, time to the first rows, rows per
    node (every file one row, none failed: checked)."""
    job = ClusterRun(package, shape)
    t0 = time.perf_counter()
    first_s, n = None, 0
    for batch in job.run(files):
        n += len(batch.predictions)
        first_s = first_s if first_s is not None else time.perf_counter() - t0
    seconds = time.perf_counter() - t0
    assert n == len(files) and job.summary.skipped == 0, (n, job.summary)
    return {"s": seconds, "first_s": first_s, "per_node": dict(job.rows_per_node),
            "sizing": job.sizing.describe(), "decode_ms": job.summary.decode_ms,
            "infer_ms": job.summary.mean_ms}  # fmt: skip


def marginal(n1: int, s1: float, n2: int, s2: float) -> float:
    return (n2 - n1) / (s2 - s1) if s2 > s1 else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=2000)
    ap.add_argument("--first", type=int, default=500, help="the smaller run of the pair")
    ap.add_argument("--two-node-images", type=int, default=600)
    ap.add_argument("--arch", default="resnet18")
    ap.add_argument("--size", default="320x240", help="the generated photos' size")
    args = ap.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    n1, n2 = args.first, args.images
    print(f"loadavg before: {loadavg()}")
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp:
        folder = make_photo_folder(Path(tmp) / "photos", n2, size=size)
        files = sorted(str(p) for p in folder.iterdir())
        loaded = load_bench_model(args.arch, None)
        options = RunOptions(device="cpu", engine="onnxruntime", precision="fp32")
        clf = Classifier(loaded, options, topk=5)  # exports once (not timed)
        package = package_model(loaded, clf, options)
        print(f"{args.arch}, {n1} then {n2} photos of {args.size}; local: {clf.plan.describe()}")

        l1, l2 = local_run(clf, files[:n1]), local_run(clf, files)
        local = marginal(n1, l1, n2, l2)
        print(f"local predict: {n1} in {l1:.1f} s, {n2} in {l2:.1f} s: marginal "
              f"{local:.1f} images/s, overall {n2 / l2:.1f}")  # fmt: skip

        t0 = time.perf_counter()
        with ClusterSession("local") as shape:
            start_s = time.perf_counter() - t0
            c1 = cluster_run(shape, package, files[:n1])
            c2 = cluster_run(shape, package, files)
        cluster = marginal(n1, c1["s"], n2, c2["s"])
        print(f"local cluster: start-up {start_s:.1f} s (ray.init); {c2['sizing']}")
        for n, c in ((n1, c1), (n2, c2)):
            print(f"  {n}: first rows after {c['first_s']:.1f} s, all in {c['s']:.1f} s "
                  f"({n / c['s']:.1f} images/s overall)")  # fmt: skip
        print(f"  marginal {cluster:.1f} images/s = {cluster / local:.2f}x local; per image: "
              f"decode {c2['decode_ms']:.1f} ms (one core), model {c2['infer_ms']:.1f} ms "
              f"(the worker's batch time / batch size)")  # fmt: skip
        l3 = local_run(clf, files)
        print(f"local predict again ({n2}): {n2 / l3:.1f} images/s overall "
              f"(the cluster's overall on {n2}: {l3 / c2['s']:.2f}x this)")  # fmt: skip

        t0 = time.perf_counter()
        nodes = RayNodes(cpus=1)
        try:
            nodes.add_node(cpus=1)
            nodes_s = time.perf_counter() - t0
            with ClusterSession(nodes.address) as shape:
                t = cluster_run(shape, package, files[: args.two_node_images])
        finally:
            nodes.stop()
        per_node = ", ".join(f"{k[:8]}: {v}" for k, v in sorted(t["per_node"].items()))
        print(f"two nodes (1 CPU each): start-up {nodes_s:.1f} s; {t['sizing']}")
        print(f"  {args.two_node_images} photos: rows per node {per_node}; first rows after "
              f"{t['first_s']:.1f} s, {args.two_node_images / t['s']:.1f} images/s overall")  # fmt: skip
    print(f"loadavg after: {loadavg()}")


if __name__ == "__main__":
    main()
