"""Run core's long tasks on a QThread: the worker-object pattern.

A :class:`TaskWorker` wraps a core generator function ``fn(*args, should_stop=event,
progress=callable, **kwargs)``. Each yielded record is emitted through ``item``; the
generator's return value through ``finished``; a core error's message through ``failed``.
Cancel with :meth:`TaskWorker.cancel` from the GUI thread (it sets a threading.Event directly,
because a queued slot would not run while ``run()`` is busy). This module is the only place
threads are started.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from PySide6.QtCore import QCoreApplication, QObject, Qt, QThread, Signal, Slot

from pigeonhole.core.errors import Cancelled, PigeonholeError
from pigeonhole.core.tasks import run_to_end

log = logging.getLogger(__name__)


class TaskWorker(QObject):
    item = Signal(object)  # one record yielded by the core generator
    progress = Signal(int, int)  # done, total (total -1 while unknown)
    message = Signal(str)  # free-text status from the core progress callback
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

    def _progress(self, done, total=None, text: str | None = None) -> None:
        self.progress.emit(int(done), -1 if total is None else int(total))
        if text:
            self.message.emit(text)

    @Slot()
    def run(self) -> None:
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


def start_worker(worker: TaskWorker, parent: QObject | None = None) -> QThread:
    """Move ``worker`` to a new QThread and start it. The thread quits when the worker
    finishes or fails; both are deleted later. Keep the returned thread to ``wait()`` on it."""
    thread = QThread(parent)
    # The thread holds the worker's Python wrapper: if the caller drops its last reference
    # when `finished` arrives, Python would delete the worker from the GUI thread while its
    # own thread is still returning from run() (a crash, seen under load).
    thread.worker = worker
    worker.moveToThread(thread)
    thread.started.connect(worker.run)
    # Direct: QThread.quit is thread-safe, and a queued quit would never run while the GUI
    # thread blocks in stop_and_wait() (closing the window mid-run would hang until timeout).
    worker.finished.connect(thread.quit, Qt.ConnectionType.DirectConnection)
    worker.failed.connect(thread.quit, Qt.ConnectionType.DirectConnection)
    thread.finished.connect(worker.deleteLater)
    thread.start()
    return thread


def stop_and_wait(
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
    except RuntimeError:
        pass
    return True
