"""core.tasks: worker threads below the GUI thread (a lowered thread, and the threads a run
starts from it: decoders, forward threads, the listing, run at a higher nice value than the main
thread; a run started from an ordinary thread, the command line's, leaves every thread as it
is), and a generator's records mapped on the way."""

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
    not sys.platform.startswith("linux"), reason="reads per-thread nice values (Linux)"
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


def nice() -> int:
    """The calling thread's own nice value."""
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def in_thread(fn, lowered: bool):
    """``fn()``'s value, called in a new thread (lowered first when asked)."""
    out: list = []

    def body() -> None:
        if lowered:
            tasks.lower_thread_priority()
        out.append(fn())

    t = threading.Thread(target=body)
    t.start()
    t.join()
    return out[0]


@linux_only
def test_a_lowered_thread_runs_below_the_main_thread_once_and_the_main_never():
    main = nice()
    assert not tasks.lower_thread_priority()  # the GUI thread is never lowered
    assert nice() == main

    def twice():
        first = tasks.lower_thread_priority(), nice()
        return first, (tasks.lower_thread_priority(), nice())

    (ok, once), (again, after) = in_thread(twice, lowered=False)
    assert ok and again
    assert once == min(19, main + tasks.BACKGROUND_NICE)
    assert after == once  # lowering again does not go further
    assert in_thread(nice, lowered=False) == main  # an ordinary thread is untouched


def _pipeline_nices() -> tuple[set[int], set[int]]:
    """The nice values of a pipeline's decode and forward threads, seen from inside them."""
    plan = RunPlan(HOST_CPU, "fp32", 4, 2, False, False, 2, 0, engine="onnxruntime")
    decode_seen: set[int] = set()
    forward_seen: set[int] = set()

    def decode(item):
        decode_seen.add(nice())
        return item

    def compute(batch):
        forward_seen.add(nice())
        return batch

    tasks.run_to_end(run_pipeline(ListSource(range(20)), decode, compute, plan))
    return decode_seen, forward_seen


@linux_only
@pytest.mark.parametrize("lowered", [True, False], ids=["from the window", "from the CLI"])
def test_a_run_passes_its_thread_priority_on_to_its_threads(lowered):
    main = nice()
    want = min(19, main + tasks.BACKGROUND_NICE) if lowered else main
    decode_seen, forward_seen = in_thread(_pipeline_nices, lowered)
    assert decode_seen == {want}
    assert forward_seen == {want}


@linux_only
@pytest.mark.parametrize("lowered", [True, False], ids=["from the window", "from the CLI"])
def test_the_listing_thread_runs_at_its_starters_priority(tmp_path: Path, monkeypatch, lowered):
    (tmp_path / "a.jpg").write_bytes(b"not read")
    seen: list[int] = []
    import pigeonhole.core.data.listing as listing

    real = listing.image_paths

    def spy(*args, **kwargs):
        seen.append(nice())
        yield from real(*args, **kwargs)

    monkeypatch.setattr(listing, "image_paths", spy)

    def list_all():
        lister = BackgroundLister([str(tmp_path)], ScanStats(), None)
        lister._thread.join(10)
        return lister

    in_thread(list_all, lowered)
    main = nice()
    assert seen == [min(19, main + tasks.BACKGROUND_NICE) if lowered else main]
