"""Listing image files on a background thread, so classifying starts at once and the total is
known as soon as the listing ends (see core.images.iter_image_files for the order and rules)."""

from __future__ import annotations

import logging
import queue
import threading

from .errors import PigeonholeError
from .images import ScanStats, iter_image_files
from .tasks import stop_requested

log = logging.getLogger(__name__)

_LIST_QUEUE_MAX = 200_000  # paths listed ahead (a few MB of strings at most)
_DONE = object()


class BackgroundLister:
    """Lists candidates on a background thread into a bounded queue (strings only)."""

    def __init__(self, paths, stats: ScanStats, should_stop):
        self._queue: queue.Queue = queue.Queue(maxsize=_LIST_QUEUE_MAX)
        self._stop = threading.Event()
        self._outer_stop = should_stop
        self._stats = stats
        self.total: int | None = None
        self.finished = False
        self.taken = 0
        self.error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, args=(paths,), name="pigeonhole-list", daemon=True
        )
        self._thread.start()

    def _stopped(self) -> bool:
        return self._stop.is_set() or stop_requested(self._outer_stop)

    def _run(self, paths) -> None:
        count = 0
        try:
            for p in iter_image_files(paths, self._stats, should_stop=self._stopped):
                while True:
                    if self._stopped():
                        return
                    try:
                        self._queue.put(str(p), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                count += 1
            self.total = count
        except BaseException as e:  # surfaced to the consumer
            self.error = e
            log.exception("listing failed")
        finally:
            while not self._stop.is_set():  # the consumer may be slow: wait for room
                try:
                    self._queue.put(_DONE, timeout=0.1)
                    break
                except queue.Full:
                    continue

    def next(self, block: bool, should_stop=None) -> str | None:
        """The next path, or None (listing finished, nothing ready without blocking, stopped)."""
        if self.finished:
            return None
        while True:
            try:
                item = self._queue.get(block=block, timeout=0.1 if block else None)
            except queue.Empty:
                if not block or stop_requested(should_stop):
                    return None
                continue
            if item is _DONE:
                self.finished = True
                if self.error is not None:
                    raise PigeonholeError(f"Could not list the images: {self.error}")
                return None
            self.taken += 1
            return item

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
