"""Run core's long tasks on a QThread: the worker-object pattern, and one slot per kind of job.

A :class:`TaskWorker` wraps a core generator function ``fn(*args, should_stop=event,
progress=callable, **kwargs)``. Each yielded record is emitted through ``item``; the
generator's return value through ``finished``; a core error's message through ``failed``.
Cancel with :meth:`TaskWorker.cancel` from the GUI thread (it sets a threading.Event directly,
because a queued slot would not run while ``run()`` is busy).

A :class:`WorkerSlot` owns the start, cancel and wait of one kind of job (a classify run, a
model load, a training...) and a generation id, so that what a superseded job still reports is
dropped. Every tab starts its worker threads through one; this module is the only place a
QThread is started (thumbnails use a QThreadPool of their own).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, Qt, QThread, Signal, Slot

from ...core.errors import Cancelled, PigeonholeError
from ...core.tasks import run_as_batch, run_to_end

log = logging.getLogger(__name__)


class TaskWorker(QObject):
    item = Signal(object)  # one record yielded by the core generator
    progress = Signal(int, int)  # done, total (total -1 while unknown)
    finished = Signal(object)  # the generator's return value (None if cancelled early)
    failed = Signal(str)  # a message for the user

    def __init__(self, fn: Callable, *args, **kwargs):
        super().__init__()
        self._fn, self._args, self._kwargs = fn, args, kwargs
        self.stop_event = threading.Event()

    def cancel(self) -> None:
        self.stop_event.set()

    @property
    def cancelled(self) -> bool:
        return self.stop_event.is_set()

    def _progress(self, done, total=None) -> None:
        self.progress.emit(int(done), -1 if total is None else int(total))

    @Slot()
    def run(self) -> None:
        # Batch work (and so is every thread this job starts): on a busy CPU the GUI thread is
        # scheduled first when it wakes, and the job keeps its share of the CPU.
        run_as_batch()
        try:
            result = self._fn(
                *self._args, should_stop=self.stop_event, progress=self._progress, **self._kwargs
            )
            if hasattr(result, "__next__"):
                result = run_to_end(result, self.item.emit)
            self.finished.emit(result)
        except Cancelled:
            self.finished.emit(None)
        except PigeonholeError as e:
            self.failed.emit(str(e))
        except MemoryError:
            self.failed.emit("Out of memory: try a smaller batch size or a smaller network.")
        except Exception as e:  # unexpected: log the traceback, show one line
            log.exception("worker failed")
            self.failed.emit(f"Unexpected error: {type(e).__name__}: {e} (details in the log file)")
        finally:
            # Back to the GUI thread, so deleteLater (on thread.finished) destroys this object
            # there rather than in a thread that is winding down while Python holds the GIL.
            app = QCoreApplication.instance()
            if app is not None:
                self.moveToThread(app.thread())


def _start_thread(worker: TaskWorker, parent: QObject | None = None) -> QThread:
    """Move ``worker`` to a new QThread and start it. The thread quits when the worker
    finishes or fails; the worker is deleted later. Keep the returned thread to wait on it."""
    thread = QThread(parent)
    # The thread holds the worker's Python wrapper: if the caller drops its last reference
    # when `finished` arrives, Python would delete the worker from the GUI thread while its
    # own thread is still returning from run() (a crash, seen under load).
    thread.worker = worker
    worker.moveToThread(thread)
    thread.started.connect(worker.run)
    # Direct: QThread.quit is thread-safe, and a queued quit would never run while the GUI
    # thread blocks in _stop_and_wait() (closing the window mid-run would hang until timeout).
    worker.finished.connect(thread.quit, Qt.ConnectionType.DirectConnection)
    worker.failed.connect(thread.quit, Qt.ConnectionType.DirectConnection)
    thread.finished.connect(worker.deleteLater)
    thread.start()
    return thread


def _stop_and_wait(
    worker: TaskWorker | None, thread: QThread | None, timeout_ms: int = 60_000
) -> bool:
    """Cancel and wait for a running worker (window closing). True if the thread ended."""
    if worker is not None:
        try:
            worker.cancel()
        except RuntimeError:  # already deleted
            pass
    if thread is None:
        return True
    try:
        if thread.isRunning():
            return thread.wait(timeout_ms)
    except RuntimeError:  # the thread object is already deleted
        pass
    return True


def _thread_running(thread: QThread | None) -> bool:
    """Whether ``thread`` still runs (False once Qt has deleted it)."""
    try:
        return thread is not None and thread.isRunning()
    except RuntimeError:
        return False


class WorkerSlot(QObject):
    """One kind of background job for one owner: at most one current :class:`TaskWorker` on
    its own QThread, tagged with a generation id. Starting again cancels the current job and
    drops whatever it still reports; the callbacks run in the GUI thread and only ever hear
    from the current generation. Never terminates a thread: cancel, then wait."""

    # A job's worker, emitted before its thread runs: a direct connection to its signals
    # sees every record it will report (tests stop a training at a given epoch this way).
    started = Signal(object)

    def __init__(
        self,
        parent: QObject,
        *,
        on_item: Callable[[Any], None] | None = None,
        on_progress: Callable[[int, int], None] | None = None,
        on_finished: Callable[[Any], None] | None = None,
        on_failed: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(parent)
        self._on_item, self._on_progress = on_item, on_progress
        self._on_finished, self._on_failed = on_finished, on_failed
        self.generation = 0
        self._current: tuple[TaskWorker, QThread] | None = None
        self._jobs: list[tuple[TaskWorker, QThread]] = []  # superseded ones winding down too

    @property
    def busy(self) -> bool:
        """A job is started and has not reported its end yet."""
        return self._current is not None

    @property
    def worker(self) -> TaskWorker | None:
        """The current job's worker (None when idle)."""
        return self._current[0] if self._current else None

    @property
    def thread(self) -> QThread | None:
        """The current job's thread (None when idle)."""
        return self._current[1] if self._current else None

    def start(self, fn: Callable, *args, **kwargs) -> TaskWorker:
        """Run ``fn(*args, should_stop=..., progress=..., **kwargs)`` on a new thread. A job
        still going is cancelled and left to wind down; nothing it reports arrives any more."""
        self.discard()
        worker = TaskWorker(fn, *args, **kwargs)
        relay = _GenerationRelay(self, self.generation)
        worker.item.connect(relay.item)
        worker.progress.connect(relay.progress)
        worker.finished.connect(relay.finished)
        worker.failed.connect(relay.failed)
        self.started.emit(worker)
        self._jobs = [(w, t) for w, t in self._jobs if _thread_running(t)]
        self._current = (worker, _start_thread(worker, self))
        self._jobs.append(self._current)
        return worker

    def discard(self) -> None:
        """Cancel the current job and drop whatever it still reports (its thread winds down on
        its own; :meth:`shutdown` still waits for it)."""
        if self._current is not None:
            self._current[0].cancel()
        self._current = None
        self.generation += 1

    def cancel(self) -> None:
        """Ask the current job to stop; it still reports its end (``finished`` with what it
        had, or None)."""
        if self._current is not None:
            self._current[0].cancel()

    def shutdown(self, timeout_ms: int = 60_000) -> bool:
        """Cancel every job, superseded ones included, and wait for their threads (window
        closing). Whatever they still report is dropped. True if all threads ended."""
        self.discard()
        ended = all([_stop_and_wait(w, t, timeout_ms) for w, t in self._jobs])
        self._jobs.clear()
        return ended

    # -- from the relay, in the GUI thread -----------------------------------------------------
    def _deliver(self, generation: int, callback: Callable | None, *args, last: bool) -> None:
        if generation != self.generation:
            return
        if last:
            self._current = None  # before the callback, which may start the next job
        if callback is not None:
            callback(*args)


class _GenerationRelay(QObject):
    """Lives in the GUI thread (so the worker's signals arrive there, queued) and tags them
    with the generation of the job they come from."""

    def __init__(self, slot: WorkerSlot, generation: int):
        super().__init__(slot)
        self.slot, self.generation = slot, generation

    @Slot(object)
    def item(self, record) -> None:
        self.slot._deliver(self.generation, self.slot._on_item, record, last=False)

    @Slot(int, int)
    def progress(self, done: int, total: int) -> None:
        self.slot._deliver(self.generation, self.slot._on_progress, done, total, last=False)

    @Slot(object)
    def finished(self, result) -> None:
        self.slot._deliver(self.generation, self.slot._on_finished, result, last=True)
        self.deleteLater()

    @Slot(str)
    def failed(self, message: str) -> None:
        self.slot._deliver(self.generation, self.slot._on_failed, message, last=True)
        self.deleteLater()
