"""`pigeonhole predict SOURCES --cluster local|auto|ADDRESS`: the same run on a Ray cluster
(core.cluster), with the same model loading, class names, preprocessing, engine and precision
as a local run, and the same outputs:

* no ``--out``: a tab-separated line per image on stdout, as they come back;
* ``--out results.csv|.json``: one file, the local run's columns, rows in listing order;
* ``--out DIR/`` or ``results.parquet``: Parquet (a folder of parts, or one file), written as
  the rows come.

Progress goes to stderr: a bar on a terminal, else a line every few seconds (rows done of the
total, rate, failed). Ctrl-C stops the job, shuts down a cluster the run started, writes what
came back and says so (exit 130). ``--features`` is not built for cluster runs yet.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from pigeonhole.core.errors import PigeonholeError

from . import model_source, print_preprocessing, run_options
from .output import isatty, printable
from .predict import PredictRun, ProgressBar, prepare

#: Seconds between progress lines when stderr is not a terminal (a log, CI, a pipe).
PROGRESS_EVERY_S = 10.0


def run(args) -> int:
    """Check everything that can be checked here, then start or join the cluster, load the
    model, run, write, report."""
    from pigeonhole.core.cluster import require_ray
    from pigeonhole.core.cluster.session import ClusterSession
    from pigeonhole.core.cluster.sources import check_sources

    require_ray()
    out, parquet = _check_out(args.out)
    if args.include_skipped and (out is None or parquet):
        raise PigeonholeError(
            "--include-skipped adds rows to --out FILE.csv or FILE.json: give one of those."
        )
    check_sources(args.paths)
    for option, given in (("--leaks", args.leaks), ("--explain", args.explain),
                          ("--features", args.features)):  # fmt: skip
        if given:
            raise PigeonholeError(
                f"{option} does not run with --cluster yet: run it without --cluster."
            )
    t0 = time.perf_counter()
    session = ClusterSession(args.cluster)
    with session as shape:
        started_s = time.perf_counter() - t0
        _say(f"{shape.describe()} ({started_s:.1f} s)")
        job = _cluster_run(args, shape)
        result = ClusterPredictRun(args, job, out if parquet else None)
        result.classify()
    code = result.write(out) if out is not None else 0
    result.report()
    if result.interrupted:
        kept = f"; the {result.written} results so far are in {printable(str(out))}" if out else ""
        print(f"pigeonhole: interrupted{kept}", file=sys.stderr)
        return 130
    return code


def _say(text: str) -> None:
    print(f"pigeonhole: {text}", file=sys.stderr, flush=True)


def _check_out(out: str | None) -> tuple[Path | None, bool]:
    """(the checked --out, whether it is Parquet)."""
    from pigeonhole.core.cluster.parquet import check_parquet_target, is_parquet_target
    from pigeonhole.core.fileio import check_output_file
    from pigeonhole.core.results.writing import FORMATS

    if out is None:
        return None, False
    if is_parquet_target(out):
        return check_parquet_target(out), True
    return check_output_file(out, "--out", FORMATS), False


def _cluster_run(args, shape):
    """The run's model, packaged for the workers: as a local run loads and plans it
    (ONNX Runtime's export or an ONNX model, shipped to CPU workers), or, on a cluster with
    GPUs, the torch model each GPU worker plans for itself."""
    from pigeonhole.core.cluster.pipeline import ClusterRun
    from pigeonhole.core.cluster.worker import gpu_package, package_model
    from pigeonhole.core.models.files import is_onnx_name

    options = run_options(args)
    checkpoint = getattr(args, "checkpoint", None) or ""
    if shape.gpus >= 1 and options.device in ("auto", "cuda") and not is_onnx_name(checkpoint):
        from pigeonhole.core.models.checkpoints import load_model

        loaded = load_model(model_source(args))
        print_preprocessing(loaded, sys.stderr)
        package = gpu_package(loaded, options, args.topk)
    else:
        loaded, clf = prepare(args)
        package = package_model(loaded, clf, options)
    job = ClusterRun(package, shape, draft=not args.no_draft)
    return job


class ClusterPredictRun(PredictRun):
    """A predict run whose batches come from the cluster: the local run's outputs, Parquet
    written as rows come (``parquet``: its path), the partial output kept on Ctrl-C."""

    def __init__(self, args, job, parquet: Path | None):
        interactive = not args.quiet and isatty(sys.stderr)
        bar = ProgressBar(
            sys.stderr, enabled=not args.quiet, lines=not interactive, every_s=PROGRESS_EVERY_S
        )
        super().__init__(args, job, job, bar=bar)
        self.job = job
        self.sink = None
        if parquet is not None:
            from pigeonhole.core.cluster.parquet import ParquetSink

            self.keep_rows = False
            self.sink = ParquetSink(parquet, job.topk, truth=self.truth is not None)

    @property
    def written(self) -> int:
        return self.sink.rows if self.sink is not None else len(self.kept)

    def classify(self) -> None:
        try:
            super().classify()
        finally:
            if self.sink is not None:
                self.sink.close()
        self.interrupted = self.interrupted or self.job.interrupted
        self.summary = self.summary or self.job.summary

    def _keep(self, batch):
        pairs = super()._keep(batch)
        if self.sink is not None:
            from pigeonhole.core.results.writing import ExportRow

            self.sink.add([ExportRow(p, true_label=t) for p, t in pairs])
        return pairs

    def write(self, out_path: Path) -> int:
        if self.sink is None:
            return super().write(out_path)
        files = len(self.sink.files)
        _say(
            f"wrote {self.sink.rows} results to {printable(str(out_path))} "
            f"({files} Parquet file{'s' if files != 1 else ''})"
        )
        return 0

    def report(self) -> None:
        super().report()
        nodes = self.job.rows_per_node
        if len(nodes) > 1:
            shares = ", ".join(f"{node[:8]} {n}" for node, n in nodes.most_common())
            _say(f"rows per node: {shares}")
