"""Runs of the core classifier for the Classify tab: start, queue, cancel, and feeding each
batch into the results model, the thumbnail cache and the timing plots."""

from __future__ import annotations

import logging
import os
import sys
import time
from dataclasses import dataclass

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from ..widgets.plots import TimingPanel
from ..widgets.thumbnails import THUMB_SIDE, ThumbnailCache, thumbnail_to_qimage
from ..widgets.workers import TaskWorker, start_worker, stop_and_wait
from .results_model import ResultsModel

log = logging.getLogger(__name__)
FLUSH_MS = 200


def classify_task(loaded, paths, options: dict, thumbnail_size: int, *, should_stop, progress):
    """Worker body: build the Classifier on the worker thread (moving the model to the device
    can take a while) and stream its batches. Returns the RunSummary."""
    import torch

    from pigeonhole.core.inference import Classifier

    # Leave a core to the window and the decode thread: torch's CPU threads busy-spin, and a
    # UI that waits for a core stutters. (Per-thread setting: only this worker's forward passes.)
    cores = os.cpu_count() or 1
    if options.get("device", "auto") in ("auto", "cpu") and cores > 1:
        torch.set_num_threads(max(1, min(torch.get_num_threads(), cores - 1)))
    clf = Classifier(
        loaded,
        device=options.get("device", "auto"),
        precision=options.get("precision", "auto"),
        batch_size=int(options.get("batch_size", 0)),
        topk=5,
    )
    summary = yield from clf.run(
        paths, should_stop=should_stop, progress=progress, thumbnail_size=thumbnail_size
    )
    return summary


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


def format_duration(seconds: float) -> str:
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m} min {s:02d} s"
    h, m = divmod(m, 60)
    return f"{h} h {m:02d} min"


class RunController(QObject):
    """One run at a time; further requests queue behind it (and append to the results)."""

    started = Signal()
    progressed = Signal(object)  # RunProgress
    listing = Signal(int)  # images found so far, before the first batch
    batch_added = Signal(int)  # rows added
    finished = Signal(object)  # RunSummary, or None when cancelled before it had one
    failed = Signal(str)

    def __init__(self, model: ResultsModel, cache: ThumbnailCache, plots: TimingPanel, parent=None):
        super().__init__(parent)
        self.model, self.cache, self.plots = model, cache, plots
        self.queue: list[list[str]] = []
        self.summary = None
        self.last_progress: RunProgress | None = None
        self._run_id = 0
        self._worker: TaskWorker | None = None
        self._thread = None
        self._old: list[tuple[TaskWorker, object]] = []  # replaced runs still winding down
        self._loaded = None
        self._options: dict = {}
        self._started_at = 0.0
        self._buffer: list = []
        self._switch_interval: float | None = None
        self._flush_timer = QTimer(self, singleShot=True, interval=FLUSH_MS)
        self._flush_timer.timeout.connect(self.flush)

    @property
    def running(self) -> bool:
        return self._worker is not None

    def start(self, loaded, paths: list[str], options: dict, append: bool = False) -> None:
        """Start classifying ``paths`` (a run already going is cancelled and left to finish
        in the background; its late batches are ignored)."""
        if self.running:
            self._retire()
        self._run_id += 1
        self._flush_timer.stop()
        if append:
            self.flush()
        self._buffer = []
        self._loaded, self._options = loaded, dict(options)
        if not append:
            self.model.clear()
            self.cache.clear()
            self.plots.clear()
        self.model.set_class_names(loaded.class_names)
        self.summary = None
        self.last_progress = None
        self._started_at = time.perf_counter()
        worker = TaskWorker(classify_task, loaded, list(paths), self._options, THUMB_SIDE)
        relay = _RunRelay(self, self._run_id)
        worker.item.connect(relay.item)
        worker.progress.connect(relay.progress)
        worker.finished.connect(relay.finished)
        worker.failed.connect(relay.failed)
        self._worker = worker
        self._thread = start_worker(worker, self)
        self._responsive(True)
        self.started.emit()

    def enqueue(self, paths: list[str]) -> None:
        self.queue.append(list(paths))

    def cancel(self) -> None:
        """Stop within one batch; queued runs are dropped too."""
        self.queue.clear()
        if self._worker is not None:
            self._worker.cancel()

    def shutdown(self, timeout_ms: int = 60_000) -> None:
        self.queue.clear()
        self._run_id += 1  # ignore anything still queued for the GUI thread
        self._flush_timer.stop()
        self._buffer = []
        stop_and_wait(self._worker, self._thread, timeout_ms)
        for worker, thread in self._old:
            stop_and_wait(worker, thread, timeout_ms)
        self._old.clear()
        self._worker = self._thread = None
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

    def _retire(self) -> None:
        self._worker.cancel()
        self._old = [(w, t) for w, t in self._old if _running(t)]
        self._old.append((self._worker, self._thread))
        self._worker = self._thread = None

    # -- from the worker (queued to the GUI thread through the relay) -----------------------
    def _on_item(self, run_id: int, batch) -> None:
        """Batches are buffered and handed to the views at most every FLUSH_MS (the first one
        at once): each hand-over relayouts and repaints the grid, which costs the same for
        one batch as for five."""
        if run_id != self._run_id:
            return
        self._buffer.append(batch)
        if self.last_progress is None:
            self.flush()
        elif not self._flush_timer.isActive():
            self._flush_timer.start()

    def flush(self) -> None:
        batches, self._buffer = self._buffer, []
        if not batches:
            return
        preds = [p for b in batches for p in b.predictions]
        for p in preds:
            if p.thumbnail is not None:
                self.cache.put(p.path, thumbnail_to_qimage(p.thumbnail))
        self.model.add_predictions(preds)
        self.plots.add_batch(preds)
        last = batches[-1]
        self.last_progress = RunProgress(last.done, last.total, last.elapsed_s)
        self.progressed.emit(self.last_progress)
        self.batch_added.emit(len(preds))

    def _on_progress(self, run_id: int, done: int, total: int) -> None:
        if run_id == self._run_id and self.last_progress is None and total < 0:
            self.listing.emit(done)

    def _on_finished(self, run_id: int, summary) -> None:
        if run_id != self._run_id:
            return
        self._flush_timer.stop()
        self.flush()
        self._worker = self._thread = None
        self.summary = summary
        if summary is not None:
            self.plots.set_summary(summary)
        cancelled = summary is None or getattr(summary, "cancelled", False)
        if self.queue and not cancelled:
            self.start(self._loaded, self.queue.pop(0), self._options, append=True)
            return
        self.queue.clear()
        self._responsive(False)
        self.finished.emit(summary)

    def _on_failed(self, run_id: int, message: str) -> None:
        if run_id != self._run_id:
            return
        self._flush_timer.stop()
        self.flush()
        self._worker = self._thread = None
        if self.queue:  # e.g. "No images found" in one drop: go on with the next
            self.failed.emit(message)
            self.start(self._loaded, self.queue.pop(0), self._options, append=True)
            return
        self._responsive(False)
        self.failed.emit(message)


class _RunRelay(QObject):
    """Lives in the GUI thread; tags a worker's signals with its run id."""

    def __init__(self, ctl: RunController, run_id: int):
        super().__init__(ctl)
        self.ctl, self.run_id = ctl, run_id

    @Slot(object)
    def item(self, batch) -> None:
        self.ctl._on_item(self.run_id, batch)

    @Slot(int, int)
    def progress(self, done: int, total: int) -> None:
        self.ctl._on_progress(self.run_id, done, total)

    @Slot(object)
    def finished(self, summary) -> None:
        self.ctl._on_finished(self.run_id, summary)
        self.deleteLater()

    @Slot(str)
    def failed(self, message: str) -> None:
        self.ctl._on_failed(self.run_id, message)
        self.deleteLater()


def _running(thread) -> bool:
    try:
        return thread is not None and thread.isRunning()
    except RuntimeError:
        return False
