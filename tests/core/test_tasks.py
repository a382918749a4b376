"""core.tasks: a generator's records mapped on the way, and worker threads marked as batch work
(a marked thread and the threads a run starts from it, its decoders, forward threads and
listing, run under SCHED_BATCH, at the nice value they had; a run started from an ordinary
thread, the command line's, leaves every thread as it is)."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import pytest

from pigeonhole.core import tasks
from pigeonhole.core.data.listing import BackgroundLister, ScanStats
from pigeonhole.core.devices import HOST_CPU
from pigeonhole.core.runtime.pipeline import ListSource, run_pipeline
from pigeonhole.core.runtime.plan import RunPlan

linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="per-thread scheduling policies (Linux)"
)


def test_mapped_maps_each_record_returns_the_value_and_closes_the_source():
    closed = []

    def source():
        try:
            yield 1
            yield 2
            return "summary"
        finally:
            closed.append(True)

    out: list = []
    assert tasks.run_to_end(tasks.mapped(source(), lambda x: x * 10), out.append) == "summary"
    assert out == [10, 20]
    early = tasks.mapped(source(), str)
    assert next(early) == "1"
    closed.clear()
    early.close()  # a cancelled run: the source's own clean-up runs at once
    assert closed == [True]


def scheduling() -> tuple[int, int]:
    """The calling thread's (policy, nice value)."""
    tid = threading.get_native_id()
    return os.sched_getscheduler(tid), os.getpriority(os.PRIO_PROCESS, tid)


def in_thread(fn, batch: bool):
    """``fn()``'s value, called in a new thread (marked as batch work first when asked)."""
    out: list = []

    def body() -> None:
        if batch:
            tasks.run_as_batch()
        out.append(fn())

    t = threading.Thread(target=body)
    t.start()
    t.join()
    return out[0]


@linux_only
def test_a_marked_thread_runs_as_batch_work_at_its_nice_value_and_the_main_never():
    main = scheduling()
    assert main[0] == os.SCHED_OTHER
    assert not tasks.run_as_batch()  # the GUI thread is never marked
    assert scheduling() == main

    def twice():
        return (tasks.run_as_batch(), scheduling()), (tasks.run_as_batch(), scheduling())

    (ok, once), (again, after) = in_thread(twice, batch=False)
    assert ok and again
    assert once == (os.SCHED_BATCH, main[1])  # the same share of the CPU: no lower priority
    assert after == once
    assert in_thread(scheduling, batch=False) == main  # an ordinary thread is untouched


def _pipeline_scheduling() -> tuple[set, set]:
    """The (policy, nice) of a pipeline's decode and forward threads, seen from inside them."""
    plan = RunPlan(HOST_CPU, "fp32", 4, 2, False, False, 2, 0, engine="onnxruntime")
    decode_seen: set = set()
    forward_seen: set = set()

    def decode(item):
        decode_seen.add(scheduling())
        return item

    def compute(batch):
        forward_seen.add(scheduling())
        return batch

    tasks.run_to_end(run_pipeline(ListSource(range(20)), decode, compute, plan))
    return decode_seen, forward_seen


@linux_only
@pytest.mark.parametrize("batch", [True, False], ids=["from the window", "from the CLI"])
def test_a_runs_threads_are_scheduled_as_the_thread_that_started_it(batch):
    main = scheduling()
    want = (os.SCHED_BATCH if batch else os.SCHED_OTHER, main[1])
    decode_seen, forward_seen = in_thread(_pipeline_scheduling, batch)
    assert decode_seen == {want}
    assert forward_seen == {want}


@linux_only
@pytest.mark.parametrize("batch", [True, False], ids=["from the window", "from the CLI"])
def test_the_listing_thread_is_scheduled_as_its_starter(tmp_path: Path, monkeypatch, batch):
    (tmp_path / "a.jpg").write_bytes(b"not read")
    seen: list = []
    import pigeonhole.core.data.listing as listing

    real = listing.image_paths

    def spy(*args, **kwargs):
        seen.append(scheduling())
        yield from real(*args, **kwargs)

    monkeypatch.setattr(listing, "image_paths", spy)

    def list_all():
        lister = BackgroundLister([str(tmp_path)], ScanStats(), None)
        lister._thread.join(10)
        return lister

    in_thread(list_all, batch)
    main = scheduling()
    assert seen == [(os.SCHED_BATCH if batch else os.SCHED_OTHER, main[1])]
