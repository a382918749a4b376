"""Runs of the core classifier for the Classify tab: start, queue, cancel, and feeding each
batch into the results model, the thumbnail cache and the timing plots.

A run's worker first reports the model that makes it (its ModelIdentity), then each batch with
the class its images' folders are named after (evaluation mode: worked out on the worker, as
`pigeonhole predict --evaluate` does, with the run's dropped paths as the roots)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QImage

from ...core.runtime.options import RunOptions
from ...core.tasks import format_duration, mapped
from ..widgets.plots import TimingPanel
from ..widgets.thumbnails import THUMB_SIDE, ThumbnailCache, thumbnail_to_qimage
from ..widgets.workers import WorkerSlot
from .results_model import ResultsModel

if TYPE_CHECKING:
    from ...core.results.predictions import BatchResult

log = logging.getLogger(__name__)
FLUSH_MS = 200  # batches are handed to the views at most this often...
MAX_FLUSH_MS = 800  # ...growing to this as results accumulate (see _flush_interval)


def classify_task(
    loaded,
    paths,
    options: RunOptions,
    thumbnail_size: int,
    *,
    should_stop,
    progress,
    on_stage: Callable[[str], None] | None = None,
):
    """Worker body: build the Classifier on the worker thread (moving the model to the device,
    an ONNX export or int8's calibration can take a while: ``on_stage(text)`` hears of each,
    from this thread) and stream its batches, each with its images' ground truth (the same
    end of a run as `pigeonhole predict`'s). Returns the RunSummary (its engine and
    engine_note say how the model ran).

    ``options.threads`` is the GUI thread's torch thread count (see RunController.start): a
    worker thread inherits whatever count some other thread set last (a previous run's forward
    threads set theirs to 1), and capping it at cores - 1 "to leave a core to the window" had
    left 2-core machines one forward stream of one thread, 0.56x the command line (the
    Classifier sets it on this thread where torch runs; an ONNX model never imports torch)."""
    from ...core.results.evaluation import GroundTruth, labelled_batches
    from ...core.runtime.inference import Classifier
    from ...core.runtime.kept import APP_KEEP

    def stage(text: str) -> None:
        log.info("%s...", text)
        if on_stage is not None:
            on_stage(text)

    clf = Classifier(
        loaded,
        options,
        topk=5,
        calibration=paths,  # int8 calibrates on the images about to be classified
        on_stage=stage,
        keep=APP_KEEP,  # maps and embeddings from the same pass, for the preview and views
    )
    yield loaded.identity()  # its weights were hashed by the Classifier, on this thread
    batches = clf.run(
        paths, should_stop=should_stop, progress=progress, thumbnail_size=thumbnail_size
    )
    labelled = labelled_batches(batches, GroundTruth(clf.class_names, paths))
    return (yield from mapped(labelled, ArrivedBatch.made_ready))


@dataclass(frozen=True, slots=True)
class ArrivedBatch:
    """A batch made ready for the GUI thread on the run's worker: its predictions without
    their thumbnails, and those as QImages (which, unlike QPixmaps, any thread may make).
    Done in the GUI thread, the two were half of each hand-over's time (1.7 of 3.7 s over a
    run of 45,000 images on 2 cores), in the event loop's longest waits."""

    batch: BatchResult
    truths: tuple[str | None, ...]
    thumbnails: tuple[tuple[str, QImage], ...]

    @classmethod
    def made_ready(cls, labelled) -> ArrivedBatch:
        thumbnails, bare = [], []
        for p in labelled.batch.predictions:
            if p.thumbnail is not None:
                thumbnails.append((p.path, thumbnail_to_qimage(p.thumbnail)))
                p = replace(p, thumbnail=None)
            bare.append(p)
        batch = replace(labelled.batch, predictions=tuple(bare))
        return cls(batch, labelled.truths, tuple(thumbnails))


def torch_threads() -> int:
    """torch's thread count as this (the GUI) thread sees it: the process's default; 0 (the
    process's setting) where torch is not imported: a run of an ONNX model never imports it,
    and importing it here would hold the window for seconds."""
    torch = sys.modules.get("torch")
    return torch.get_num_threads() if torch is not None else 0


@dataclass(slots=True)
class RunProgress:
    done: int
    total: int | None
    elapsed_s: float

    @property
    def rate(self) -> float:
        return self.done / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        if self.total is None or self.rate <= 0:
            return None
        return max(0.0, (self.total - self.done) / self.rate)

    def text(self) -> str:
        count = f"{self.done:,} of {self.total:,}" if self.total is not None else f"{self.done:,}"
        parts = [count, f"{self.rate:.1f} images/s"]
        eta = self.eta_s
        if eta is not None and self.done < (self.total or 0):
            parts.append(f"about {format_duration(eta)} left")
        return " · ".join(parts)


class RunController(QObject):
    """One run at a time; further requests queue behind it (and append to the results)."""

    started = Signal()
    identified = Signal(object)  # the ModelIdentity of the model making the run's results
    progressed = Signal(object)  # RunProgress
    batch_added = Signal(int)  # rows added
    finished = Signal(object)  # RunSummary, or None when cancelled before it had one
    failed = Signal(str)
    staged = Signal(str)  # a long step before the first image ("Exporting the network to ONNX")
    _stage = Signal(int, str)  # (run number, text), emitted from the worker thread: queued here

    def __init__(self, model: ResultsModel, cache: ThumbnailCache, plots: TimingPanel, parent=None):
        super().__init__(parent)
        self.model, self.cache, self.plots = model, cache, plots
        self.queue: list[list[str]] = []
        self.sources: list[str] = []  # the files and folders the results come from
        self.warnings: list[str] = []  # the runs' RunSummary.warnings, each said once
        self.summary = None
        self.last_progress: RunProgress | None = None
        self.classifying = WorkerSlot(
            self,
            on_item=self._on_item,
            on_finished=self._on_finished,
            on_failed=self._on_failed,
        )
        self._loaded = None
        self._options = RunOptions()
        self._buffer: list = []
        self._switch_interval: float | None = None
        self._flush_timer = QTimer(self, singleShot=True, interval=FLUSH_MS)
        self._flush_timer.timeout.connect(self.flush)
        self._runs_started = 0
        self._stage.connect(self._on_stage)

    @property
    def running(self) -> bool:
        return self.classifying.busy

    @property
    def loaded(self):
        """The LoadedModel of the latest run (None before the first)."""
        return self._loaded

    def start(
        self,
        loaded,
        paths: list[str],
        options: RunOptions,
        append: bool = False,
        keep_corrections: bool = False,
    ) -> None:
        """Start classifying ``paths`` (a run already going is cancelled and left to finish
        in the background; its late batches are ignored). ``append``: after the results so
        far; else they are replaced (``keep_corrections``: the person's labels stay with
        their files)."""
        self._flush_timer.stop()
        if append:
            self.flush()
        self._buffer = []
        self._loaded = loaded
        self._options = replace(options, threads=options.threads or torch_threads())
        if append:
            self.sources.extend(paths)
        else:
            self.sources, self.warnings = list(paths), []
            self.model.clear(keep_corrections=keep_corrections)
            self.cache.clear()
            self.plots.clear("<b>Starting…</b>")
        self.model.set_class_names(loaded.class_names)
        self.summary = None
        self.last_progress = None
        self._runs_started += 1
        self.classifying.start(
            classify_task,
            loaded,
            list(paths),
            self._options,
            THUMB_SIDE,
            on_stage=partial(self._stage.emit, self._runs_started),
        )
        self._responsive(True)
        self.started.emit()

    def enqueue(self, paths: list[str]) -> None:
        self.queue.append(list(paths))

    def cancel(self) -> None:
        """Stop now: queued runs are dropped, the results so far stay, ``finished(None)`` comes
        at once. The run's threads wind down in the background (core stops within a batch,
        which on a slow CPU can take seconds); nothing they still report arrives, and closing
        the window waits for them."""
        self.queue.clear()
        if not self.running:
            return
        self._flush_timer.stop()
        self.flush()
        self.classifying.discard()
        self.summary = None
        self.plots.show_cancelled(self.last_progress.done if self.last_progress else 0)
        self._responsive(False)
        self.finished.emit(None)

    def shutdown(self, timeout_ms: int = 60_000) -> None:
        """Cancel the run (and replaced runs still winding down) and wait for them."""
        self.queue.clear()
        self._flush_timer.stop()
        self._buffer = []
        self.classifying.shutdown(timeout_ms)  # anything still queued for the GUI thread is dropped
        self._responsive(False)

    def _responsive(self, on: bool) -> None:
        """While a run goes, hand the GIL around every 1 ms instead of 5: the run's threads
        hold it between torch calls, and every UI callback has to wait for it."""
        if on and self._switch_interval is None:
            self._switch_interval = sys.getswitchinterval()
            sys.setswitchinterval(min(self._switch_interval, 0.001))
        elif not on and self._switch_interval is not None:
            sys.setswitchinterval(self._switch_interval)
            self._switch_interval = None

    # -- from the worker, in the GUI thread (a replaced run's reports never arrive) ------------
    def _on_stage(self, run: int, text: str) -> None:
        """A step of this run's preparation, said while no image has come yet (a replaced
        run's late word is dropped)."""
        if run == self._runs_started and self.running and self.last_progress is None:
            self.plots.clear(f"<b>{text}…</b>")
            self.staged.emit(text)

    def _on_item(self, batch) -> None:
        """Batches are buffered and handed to the views at most every FLUSH_MS (the first one
        at once): each hand-over relayouts and repaints the grid, which costs the same for
        one batch as for five. The run's model comes first, before any batch."""
        if not isinstance(batch, ArrivedBatch):  # the run's ModelIdentity, first
            self.model.set_run_model(batch)
            self.identified.emit(batch)
            return
        self._buffer.append(batch)
        if self.last_progress is None:
            self.flush()
        elif not self._flush_timer.isActive():
            self._flush_timer.start(self._flush_interval())

    def _flush_interval(self) -> int:
        """Each hand-over lays out the whole grid again (in C++, ~16 ms at 50,000 results on
        2 cores): hand over less often as the results grow, so the window's share of the CPU
        stays flat instead of growing with the run."""
        return min(MAX_FLUSH_MS, FLUSH_MS + self.model.rowCount() // 80)

    def flush(self) -> None:
        batches, self._buffer = self._buffer, []
        if not batches:
            return
        preds = [p for b in batches for p in b.batch.predictions]
        for b in batches:
            for path, image in b.thumbnails:
                self.cache.put(path, image)
        self.model.add_predictions(preds, [t for b in batches for t in b.truths])
        self.plots.add_batch(preds)
        last = batches[-1].batch
        self.last_progress = RunProgress(last.done, last.total, last.elapsed_s)
        self.plots.show_running(last.done, last.total, self.last_progress.rate)
        self.progressed.emit(self.last_progress)
        self.batch_added.emit(len(preds))

    def _on_finished(self, summary) -> None:
        self._flush_timer.stop()
        self.flush()
        self.summary = summary
        if summary is not None:
            self.warnings += [w for w in summary.warnings if w not in self.warnings]
            self.plots.set_summary(summary, self.warnings)
        cancelled = summary is None or getattr(summary, "cancelled", False)
        if self.queue and not cancelled:
            self.start(self._loaded, self.queue.pop(0), self._options, append=True)
            return
        self.queue.clear()
        self._responsive(False)
        self.finished.emit(summary)

    def _on_failed(self, message: str) -> None:
        self._flush_timer.stop()
        self.flush()
        if self.queue:  # e.g. "No images found" in one drop: go on with the next
            self.failed.emit(message)
            self.start(self._loaded, self.queue.pop(0), self._options, append=True)
            return
        self._responsive(False)
        self.failed.emit(message)
