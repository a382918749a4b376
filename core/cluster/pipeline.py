"""A classify run on a Ray cluster, as Ray Data stages: the listed paths -> a decode stage on
CPU tasks (core.cluster.worker.decode_batch: our preprocessing; a bad file is a row with its
reason) -> a model stage on an actor pool, each actor loading the model once
(worker.classify_batch) -> result rows streamed back here, where they become the local run's
records: :class:`BatchResult`\\ s of :class:`Prediction`\\ s, then a :class:`RunSummary`.

Sizing (see docs/cluster.md): with GPUs, one model actor per GPU and decoding on every CPU;
without, one model actor per node running ONNX Runtime (or torch) on that node's cores, and
decode tasks beside it. Ray's backpressure keeps decoding only as far ahead as the model.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections import Counter
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass

from ..data.listing import ScanStats
from ..errors import ClusterError, DataError, first_line
from ..results.predictions import BatchResult, Prediction, RunSummary, RunTally
from ..tasks import StopFlag, stop_requested
from .session import ClusterShape
from .sources import list_sources
from .worker import ModelPackage, classify_batch, decode_batch, predictions_of, worker_threads

log = logging.getLogger(__name__)

#: Paths per input block and images per decode batch: small enough that the first results come
#: quickly and work spreads over the nodes, big enough that scheduling stays a small cost.
DECODE_BATCH = 32


@dataclass(frozen=True, slots=True)
class Sizing:
    """How the stages are laid out on the cluster: model actors and what each reserves, its
    threads, and the decode tasks' share of a CPU and how many run at once."""

    actors: int
    actor_cpus: float
    actor_gpus: float
    threads: int
    decode_cpus: float
    decode_tasks: int

    def describe(self) -> str:
        gpu = f", {self.actor_gpus:g} GPU each" if self.actor_gpus else ""
        return (
            f"{self.actors} model worker{'s' if self.actors != 1 else ''} ({self.threads} "
            f"thread{'s' if self.threads != 1 else ''}{gpu}), up to {self.decode_tasks} "
            f"decode task{'s' if self.decode_tasks != 1 else ''}"
        )


def plan_sizing(shape: ClusterShape, node_cpus: list[float], package: ModelPackage) -> Sizing:
    """The stages' layout for this cluster. GPUs (a torch package): an actor per GPU, one CPU
    each. CPUs: an actor per node reserving just over half the smallest node's CPUs (so no node
    gets two) and running on all of its cores; decode tasks take a quarter CPU each, as many at
    once as the cluster has CPUs."""
    smallest = max(1.0, min(node_cpus) if node_cpus else shape.cpus)
    decode_tasks = max(1, int(shape.cpus))
    if shape.gpus >= 1 and package.engine == "torch":
        gpus = int(shape.gpus)
        return Sizing(gpus, 1.0, 1.0, 1, 0.25, decode_tasks)
    actor_cpus = min(smallest - 0.25, smallest / 2 + 0.01)
    return Sizing(
        max(1, shape.nodes), actor_cpus, 0.0, worker_threads(smallest), 0.25, decode_tasks
    )


class _ModelActor:
    """A model stage actor: the model loaded once, then a batch at a time."""

    def __init__(self, package_ref: list, threads: int):
        import ray

        package: ModelPackage = ray.get(package_ref[0])
        self.model = package.open(threads)
        self.k = package.topk
        self.node = ray.get_runtime_context().get_node_id()

    def __call__(self, batch: dict) -> dict:
        return classify_batch(batch, self.model, self.k, self.node)


class ClusterRun:
    """Classify on a cluster (already connected: see :class:`ClusterSession`, whose shape
    ``shape`` is) what ``sources`` name, with ``package``'s model. The generator :meth:`run`
    yields a :class:`BatchResult` per batch of rows as they come back (in no particular order;
    each Prediction's ``index`` is its place in the listing); its return value (also
    ``self.summary``) is the :class:`RunSummary`. ``rows_per_node`` counts the rows each
    node's model worker classified (by Ray's node id)."""

    def __init__(self, package: ModelPackage, shape: ClusterShape, *, draft: bool = True):
        self.package = package
        self.shape = shape
        self.draft = draft
        self.sizing: Sizing | None = None
        self.summary: RunSummary | None = None
        self.rows_per_node: Counter[str] = Counter()
        self.interrupted = False  # Ctrl-C ended it (the summary says cancelled)

    @property
    def topk(self) -> int:
        return self.package.topk

    @property
    def class_names(self) -> list[str]:
        return list(self.package.class_names)

    def run(
        self,
        sources: Iterable[str],
        *,
        should_stop: StopFlag = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> Generator[BatchResult, None, RunSummary]:
        """List ``sources`` here, then stream them through the cluster (see the class)."""
        sources = list(sources)
        stats = ScanStats()
        paths = list_sources(sources, stats, should_stop)
        if not paths and not stop_requested(should_stop):
            raise DataError(stats.nothing_found(sources))
        batches = self._stream(paths) if paths else iter(())
        return (yield from self._records(batches, paths, stats, should_stop, progress))

    def _stream(self, paths: list[str]):
        """The rows as Ray Data gives them back (numpy batches), the stages set up for this
        cluster."""
        import pyarrow as pa
        import ray
        from ray.data import ActorPoolStrategy, TaskPoolStrategy

        _quiet_ray_data()
        node_cpus = [n["Resources"].get("CPU", 0.0) for n in ray.nodes() if n.get("Alive")]
        self.sizing = size = plan_sizing(self.shape, node_cpus, self.package)
        log.info("cluster stages: %s", size.describe())
        # Blocks of DECODE_BATCH paths; fewer for a small run, so that every decode task gets
        # a few (and the rows come back in a few batches, not one).
        rows = max(1, min(DECODE_BATCH, math.ceil(len(paths) / (4 * size.decode_tasks))))
        table = pa.table({"index": pa.array(range(len(paths)), pa.int64()), "path": paths})
        ds = ray.data.from_arrow([table.slice(i, rows) for i in range(0, len(paths), rows)])
        ds = ds.map_batches(
            decode_batch,
            fn_kwargs={"transform": self.package.transform, "draft": self.draft},
            batch_size=rows,
            batch_format="numpy",
            compute=TaskPoolStrategy(size=size.decode_tasks),
            num_cpus=size.decode_cpus,
        )
        ds = ds.map_batches(
            _ModelActor,
            fn_constructor_kwargs={"package_ref": [ray.put(self.package)], "threads": size.threads},
            batch_size=max(self.package.batch_size, 1),
            batch_format="numpy",
            compute=ActorPoolStrategy(min_size=size.actors, max_size=size.actors),
            num_cpus=size.actor_cpus,
            num_gpus=size.actor_gpus,
        )  # Ray Data spreads its actors over the nodes (its default scheduling: SPREAD)
        return ds.iter_batches(batch_size=None, batch_format="numpy", prefetch_batches=1)

    def _records(self, batches, paths, stats, should_stop, progress):
        start = time.perf_counter()
        names = list(self.package.class_names)
        tally = RunTally(len(names))
        multi_frame = 0
        cancelled = False
        total = len(paths)
        it = iter(batches)
        try:
            while True:
                if stop_requested(should_stop):
                    cancelled = True
                    break
                try:
                    rows = next(it)
                except StopIteration:
                    break
                except Exception as e:  # a Ray error (a worker died, the model failed to load)
                    raise ClusterError(f"the cluster run failed: {_ray_reason(e)}") from e
                preds = predictions_of(rows, names)
                multi_frame += int(rows["multi_frame"].sum())
                self.rows_per_node.update(
                    str(n) for n, e in zip(rows["node"], rows["error"], strict=True) if e == ""
                )
                tally.add(preds)
                yield BatchResult(tuple(preds), tally.done, total, time.perf_counter() - start)
                if progress is not None:
                    progress(tally.done, total)
        except KeyboardInterrupt:  # Ctrl-C: stop the job, keep what came back, say so
            cancelled = self.interrupted = True
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                close()  # stops the streaming executor before the cluster goes
        self.summary = dataclasses.replace(
            self._summary(stats, tally, time.perf_counter() - start, cancelled),
            skipped_groups=stats.skipped.groups(),
            multi_frame=multi_frame,
        )
        return self.summary

    def _summary(self, stats, tally: RunTally, elapsed: float, cancelled: bool) -> RunSummary:
        pkg, shape = self.package, self.shape
        return RunSummary(
            images=stats.found,
            ignored=stats.ignored,
            **tally.figures(elapsed),
            device="ray",
            device_name=f"a Ray cluster ({shape.nodes} node{'s' if shape.nodes != 1 else ''}, "
            f"{shape.cpus:g} CPUs{f', {shape.gpus:g} GPUs' if shape.gpus else ''})",
            precision=pkg.precision,
            batch_size=pkg.batch_size,
            arch=pkg.arch,
            cancelled=cancelled,
            workers=self.sizing.actors if self.sizing else 0,
            engine=pkg.engine,
            hidden=stats.hidden,
            scan_errors=tuple(stats.errors[:20]),
            model=pkg.identity,
        )


def in_listing_order(predictions: Iterable[Prediction]) -> list[Prediction]:
    """Predictions sorted back into the listing's order (a cluster returns them as they come)."""
    return sorted(predictions, key=lambda p: p.index)


def _ray_reason(e: BaseException) -> str:
    """The one line that says why a Ray job failed: the innermost cause's first line."""
    cause = e
    while cause.__cause__ is not None and cause.__cause__ is not cause:
        cause = cause.__cause__
    return first_line(cause, typed=True)


def _quiet_ray_data() -> None:
    """Ray Data's own progress bars and start/finish lines off the terminal (its log file in
    the session folder keeps them): the run prints its own progress."""
    from ray.data import DataContext

    ctx = DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False
    ctx.enable_auto_log_stats = False
    for handler in logging.getLogger("ray.data").handlers:
        if type(handler).__name__ != "SessionFileHandler":
            handler.setLevel(logging.ERROR)
