"""The conventions of long work in core: a ``should_stop`` flag and generators that yield small
records and return a result.

``should_stop`` is a ``threading.Event`` (the GUI sets it from its thread), a callable returning
bool, or None. :func:`run_to_end` drains such a generator and returns its return value.

The window's worker threads call :func:`run_as_batch`, so that on a busy CPU the GUI thread is
scheduled first when it wakes; the command line leaves every thread as it is.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Generator
from typing import Any, TypeVar

StopFlag = Any  # threading.Event | Callable[[], bool] | None
R = TypeVar("R")


def stop_check(should_stop: StopFlag) -> Callable[[], bool]:
    """A no-argument callable that says whether ``should_stop`` is set."""
    if should_stop is None:
        return lambda: False
    is_set = getattr(should_stop, "is_set", None)
    if is_set is not None:
        return is_set
    return lambda: bool(should_stop())


def stop_requested(should_stop: StopFlag) -> bool:
    """Whether ``should_stop`` (Event, callable or None) is set now."""
    return stop_check(should_stop)()


def run_to_end(gen: Generator[Any, Any, R], each: Callable[[Any], None] | None = None) -> R:
    """Drain ``gen``, handing each yielded record to ``each``; return the generator's value."""
    while True:
        try:
            record = next(gen)
        except StopIteration as done:
            return done.value
        if each is not None:
            each(record)


def mapped(gen: Generator[Any, Any, R], fn: Callable[[Any], Any]) -> Generator[Any, None, R]:
    """``gen`` with ``fn`` applied to each record it yields, in the thread that drains it;
    returns ``gen``'s return value, and closing it closes ``gen``."""
    try:
        while True:
            try:
                record = next(gen)
            except StopIteration as done:
                return done.value
            yield fn(record)
    finally:
        gen.close()


def format_duration(seconds: float) -> str:
    """A duration for a progress line: ``42 s`` under a minute, else ``3:07`` or ``1:03:07``."""
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m}:{s:02d}"
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}"


def run_as_batch() -> bool:
    """Mark the calling thread as CPU-bound batch work (Linux's ``SCHED_BATCH``): when it
    wakes (a decoder handed a new image, say) it never preempts the GUI thread but waits for
    the scheduler's next tick, while it keeps the same share of the CPU as before, against
    other programs too. Threads it starts inherit it (a run's listing, decoders and forward
    threads, ONNX Runtime's pool).

    Not a lower priority: nice +5 made the window's worst event-loop gap a little shorter again
    (bench_app, 50,000 images on 2 cores), but with two other busy programs on the machine it
    classified 40 % fewer images a second; Windows' and macOS's lower thread priorities take
    the CPU share the same way, so there nothing changes. Never applied to the main thread.
    Returns whether the thread runs as batch work now."""
    if threading.current_thread() is threading.main_thread():
        return False
    batch = getattr(os, "SCHED_BATCH", None)
    if batch is None or not sys.platform.startswith("linux"):
        return False
    tid = threading.get_native_id()
    try:
        if os.sched_getscheduler(tid) != batch:
            os.sched_setscheduler(tid, batch, os.sched_param(0))
    except OSError:  # a sandbox that refuses it: the thread runs as before
        return False
    return True
