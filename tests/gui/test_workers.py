"""WorkerSlot: one job at a time on its own thread; a superseded job's reports are dropped,
cancel ends a job within a second, shutdown waits for every thread (superseded ones too)."""

from __future__ import annotations

import os
import sys
import threading

import pytest
from PySide6.QtCore import QCoreApplication, QObject

from pigeonhole.core.errors import Cancelled, DataError


class Recorder:
    """Callbacks for a WorkerSlot that note what arrives, and in which thread."""

    def __init__(self):
        self.items, self.progress, self.finished, self.failed = [], [], [], []
        self.threads: set[threading.Thread] = set()

    def _note(self, where: list, *args) -> None:
        self.threads.add(threading.current_thread())
        where.append(args[0] if len(args) == 1 else args)

    def callbacks(self) -> dict:
        return {
            "on_item": lambda r: self._note(self.items, r),
            "on_progress": lambda d, t: self._note(self.progress, d, t),
            "on_finished": lambda r: self._note(self.finished, r),
            "on_failed": lambda m: self._note(self.failed, m),
        }


@pytest.fixture
def owner(qapp):
    obj = QObject()
    yield obj
    obj.deleteLater()


@pytest.fixture
def slot_and_log(owner):
    from pigeonhole.gui.widgets.workers import WorkerSlot

    log = Recorder()
    slot = WorkerSlot(owner, **log.callbacks())
    yield slot, log
    assert slot.shutdown(10_000)  # every test ends what it started


def scheduling() -> tuple[int, int]:
    """The calling thread's (scheduling policy, nice value): Linux only."""
    tid = threading.get_native_id()
    return os.sched_getscheduler(tid), os.getpriority(os.PRIO_PROCESS, tid)


def deliver_posted_events() -> None:
    """Run what the worker threads queued for the GUI thread (they have ended: all is queued)."""
    QCoreApplication.sendPostedEvents()
    QCoreApplication.processEvents()


def test_a_job_reports_items_progress_and_result_in_the_gui_thread(qtbot, slot_and_log):
    slot, log = slot_and_log

    def job(n, *, should_stop, progress):
        for i in range(n):
            progress(i + 1, n)
            yield i * 10
        return "done"

    slot.start(job, 3)
    assert slot.busy
    qtbot.waitUntil(lambda: not slot.busy, timeout=5_000)
    assert log.items == [0, 10, 20] and log.progress == [(1, 3), (2, 3), (3, 3)]
    assert log.finished == ["done"] and log.failed == []
    assert log.threads == {threading.main_thread()}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread scheduling policies")
def test_a_job_runs_as_batch_work(qtbot, slot_and_log):
    """On a busy CPU the GUI thread is scheduled first when it wakes: a job's thread runs as
    batch work, at the nice value the GUI thread has (the same share of the CPU)."""
    slot, log = slot_and_log

    def job(*, should_stop, progress):
        return scheduling()

    gui = scheduling()
    slot.start(job)
    qtbot.waitUntil(lambda: not slot.busy, timeout=5_000)
    assert log.finished == [(os.SCHED_BATCH, gui[1])]
    assert scheduling() == gui == (os.SCHED_OTHER, gui[1])  # the GUI thread is untouched


def test_a_core_error_arrives_as_its_message(qtbot, slot_and_log):
    slot, log = slot_and_log

    def job(*, should_stop, progress):
        raise DataError("No images in /data.")

    slot.start(job)
    qtbot.waitUntil(lambda: not slot.busy, timeout=5_000)
    assert log.failed == ["No images in /data."] and log.finished == []


def test_a_superseded_generation_is_dropped(qtbot, slot_and_log):
    slot, log = slot_and_log
    gate = threading.Event()

    def old(*, should_stop, progress):  # ignores cancel: reports after it was replaced
        gate.wait(10)
        yield "old item"
        progress(1, 1)
        return "old result"

    def new(*, should_stop, progress):
        yield "new item"
        return "new result"

    slot.start(old)
    old_worker, old_thread = slot.worker, slot.thread
    slot.start(new)
    assert old_worker.cancelled  # the replaced job was asked to stop
    qtbot.waitUntil(lambda: log.finished == ["new result"], timeout=5_000)
    gate.set()
    assert old_thread.wait(5_000)
    deliver_posted_events()
    assert log.items == ["new item"] and log.finished == ["new result"]
    assert log.progress == [] and log.failed == []
    assert not slot.busy


def test_cancel_ends_the_worker_within_a_second(qtbot, slot_and_log):
    slot, log = slot_and_log
    running = threading.Event()

    def job(*, should_stop, progress):
        running.set()
        n = 0
        while not should_stop.wait(0.05):  # core checks between batches
            n += 1
            yield n
        raise Cancelled("stopped")

    slot.start(job)
    thread = slot.thread
    qtbot.waitUntil(running.is_set, timeout=5_000)
    slot.cancel()
    qtbot.waitUntil(lambda: not slot.busy, timeout=1_000)
    assert log.finished == [None] and log.failed == []  # a cancelled job ends with None
    assert thread.wait(1_000)


def test_shutdown_waits_for_the_current_and_superseded_jobs(qtbot, slot_and_log):
    slot, log = slot_and_log
    old_may_end = threading.Event()
    old_ended = threading.Event()
    new_running = threading.Event()

    def old(*, should_stop, progress):  # ignores cancel; ends only once the new job stops
        old_may_end.wait(10)
        old_ended.set()

    def new(*, should_stop, progress):
        new_running.set()
        should_stop.wait(10)
        old_may_end.set()
        raise Cancelled("stopped")

    slot.start(old)
    old_thread = slot.thread
    slot.start(new)
    new_thread = slot.thread
    qtbot.waitUntil(new_running.is_set, timeout=5_000)
    assert old_thread.isRunning()
    assert slot.shutdown(10_000)
    assert old_ended.is_set()
    assert not old_thread.isRunning() and not new_thread.isRunning()
    assert not slot.busy and slot.worker is None
    deliver_posted_events()
    assert log.finished == [] and log.failed == []  # nothing arrives after shutdown


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread scheduling policies")
def test_thumbnails_are_remade_as_batch_work(qtbot, tmp_path, monkeypatch):
    """An evicted thumbnail is re-made on a pool thread that runs as batch work, and arrives."""
    from PIL import Image

    import pigeonhole.gui.widgets.thumbnails as thumbnails

    path = tmp_path / "a.jpg"
    Image.new("RGB", (64, 48), "red").save(path)
    seen: list[int] = []
    real = thumbnails.read_thumbnail

    def spy(*args):
        seen.append(scheduling())
        return real(*args)

    monkeypatch.setattr(thumbnails, "read_thumbnail", spy)
    cache = thumbnails.ThumbnailCache()
    loader = thumbnails.ThumbnailLoader(cache)
    gui = scheduling()
    with qtbot.waitSignal(loader.ready, timeout=5_000):
        loader.request(str(path))
    loader.shutdown()
    assert seen == [(os.SCHED_BATCH, gui[1])]
    assert cache.get(str(path)) is not None
