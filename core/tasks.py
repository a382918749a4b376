"""The conventions of long work in core: a ``should_stop`` flag and generators that yield small
records and return a result.

``should_stop`` is a ``threading.Event`` (the GUI sets it from its thread), a callable returning
bool, or None. :func:`run_to_end` drains such a generator and returns its return value.
"""

from __future__ import annotations

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
