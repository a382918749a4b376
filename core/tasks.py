"""The conventions of long work in core: a ``should_stop`` flag and generators that yield small
records and return a result.

``should_stop`` is a ``threading.Event`` (the GUI sets it from its thread), a callable returning
bool, or None. :func:`run_to_end` drains such a generator and returns its return value.

Priority: the window's worker threads call :func:`lower_thread_priority`, so that on a busy CPU
the GUI thread is scheduled before them; threads that start workers of their own pass the
priority on with :func:`priority_for_workers`. The command line leaves every thread as it is.
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


# How much a background thread yields to the GUI thread, in Linux nice steps. 5 gives the GUI
# thread three times a worker's share of a busy CPU; measured with benchmarks/bench_app.py on
# 2 cores: the worst event-loop gap on dropping 50,000 images went from 94-165 ms to 59-91 ms,
# at the same images per second (the workers still take every cycle the GUI thread leaves).
BACKGROUND_NICE = 5
_WINDOWS_BELOW_NORMAL = -1  # THREAD_PRIORITY_BELOW_NORMAL
_local = threading.local()


def lower_thread_priority() -> bool:
    """Let the calling thread yield the CPU to the GUI thread: on Linux its nice value goes
    :data:`BACKGROUND_NICE` above the main thread's (threads it starts then inherit it: a run's
    decoders, forward threads and listing, ONNX Runtime's own pool); on Windows it runs below
    normal priority. Elsewhere nothing changes (Qt's ``QThread.LowPriority`` covers macOS's
    worker QThreads). Never lowers the main thread; calling again changes nothing. Returns
    whether the thread now runs lowered."""
    if threading.current_thread() is threading.main_thread():
        return False
    if getattr(_local, "lowered", False):
        return True
    try:
        if sys.platform.startswith("linux"):
            tid = threading.get_native_id()
            target = min(19, os.getpriority(os.PRIO_PROCESS, os.getpid()) + BACKGROUND_NICE)
            if os.getpriority(os.PRIO_PROCESS, tid) < target:  # not inherited already
                os.setpriority(os.PRIO_PROCESS, tid, target)
        elif sys.platform == "win32":
            import ctypes

            kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
            if not kernel32.SetThreadPriority(kernel32.GetCurrentThread(), _WINDOWS_BELOW_NORMAL):
                return False
        else:
            return False
    except OSError:  # a sandbox that refuses it: the thread runs as before
        return False
    _local.lowered = True
    return True


def priority_for_workers() -> Callable[[], None]:
    """Called by a thread about to start worker threads (a pool's ``initializer``): a function
    each new thread calls first so that it runs at the starter's priority. Linux passes a
    thread's nice value on by itself; Windows starts every thread at normal priority."""
    if getattr(_local, "lowered", False):
        return lower_thread_priority
    return _unchanged


def _unchanged() -> None:
    pass
