"""Finding images, and accounting for every other file: every candidate under folders and
files, in a stable natural order, streamed one directory at a time (so the first results arrive
long before a big folder is listed), and listed on a background thread by
:class:`BackgroundLister` so classifying starts at once and the total is known as soon as the
listing ends.

A candidate is a file some installed reader decodes: an extension Pillow or a registered plugin
reads (core.data.formats: HEIC, JPEG XL), a camera RAW extension when rawpy is installed, or an
unknown extension whose first bytes are an image format's signature. Every other file is
skipped with a reason a person reads (:data:`~core.data.formats.SKIP_REASONS`: videos, edit
sidecars, RAW files that need the extra, documents...), counted and (up to
:data:`MAX_LISTED_SKIPPED`) named in :attr:`ScanStats.skipped`; hidden files and folders and
macOS ``._`` resource forks are skipped quietly but counted. Symlink loops and duplicates are
skipped too.
"""

from __future__ import annotations

import collections
import logging
import os
import queue
import re
import stat
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageFile

from ..errors import PigeonholeError
from ..tasks import StopFlag, stop_check, stop_requested
from .formats import (
    NOT_IMAGE_EXTENSIONS,
    RAW_EXTENSIONS,
    SKIP_REASONS,
    missing_reader,
    raw_available,
    register_readers,
)
from .pillow_setup import quiet_pillow
from .skipped import MAX_LISTED_SKIPPED, SkippedGroup, SkipTally  # noqa: F401 (re-exported)

log = logging.getLogger(__name__)
register_readers()  # HEIC/HEIF and JPEG XL extensions count as images
quiet_pillow()  # identifying a file of unknown extension must not warn on the terminal

# Formats Pillow registers but cannot decode pixels of (stub plugins, MPEG identifies only): a
# video or a weather file in a photo folder is not an image candidate.
_UNDECODABLE = {"BUFR", "GRIB", "HDF5", "MPEG", "FITSSTUB"}
# Formats whose signature is strong enough to call a file with an unknown extension an image
# (text-based formats such as XBM, whose "signature" is "#define", are left out).
_SNIFFED = {
    "JPEG", "PNG", "GIF", "TIFF", "BMP", "WEBP", "HEIF", "AVIF", "JXL", "JPEG2000", "ICO",
    "ICNS", "PSD", "DDS", "QOI", "BLP", "FTEX", "SUN", "MCIDAS", "XVTHUMB",
}  # fmt: skip


def _readable_extensions() -> frozenset[str]:
    Image.init()
    exts = set()
    for ext, fmt in Image.registered_extensions().items():
        factory = Image.OPEN.get(fmt)
        if factory is None or fmt in _UNDECODABLE:
            continue
        cls = factory[0] if isinstance(factory, tuple) else factory
        if isinstance(cls, type) and issubclass(cls, ImageFile.StubImageFile):
            continue
        exts.add(ext.lower())
    if raw_available():
        exts |= RAW_EXTENSIONS
    return frozenset(exts)


#: Every extension (lower-case, with the dot) whose files an installed reader decodes.
IMAGE_EXTENSIONS: frozenset[str] = _readable_extensions()


@dataclass(slots=True)
class ScanStats:
    found: int = 0  # image candidates yielded
    ignored: int = 0  # files skipped for a reason shown (videos, sidecars, documents...)
    hidden: int = 0  # hidden files and folders and macOS resource forks skipped
    duplicates: int = 0  # same file reached twice (symlinks, a path given twice, loops)
    errors: list[str] = field(default_factory=list)  # unreadable folders, missing paths
    skipped: SkipTally = field(default_factory=SkipTally)

    def skip(self, path: str, reason: str) -> None:
        """Count (and name) one skipped file or folder."""
        self.skipped.add(path, reason)
        if SKIP_REASONS[reason].quiet:
            self.hidden += 1
        else:
            self.ignored += 1

    def nothing_found(self, paths) -> str:
        """The message when listing ``paths`` found no image: what was there instead."""
        if isinstance(paths, str | os.PathLike):
            paths = [paths]
        names = ", ".join(str(p) for p in list(paths)[:3])
        details = [g.text for g in self.skipped.groups()] + self.errors[:2]
        extra = f" ({'; '.join(details)})" if details else ""
        return f"No images found in {names or 'the selection'}{extra}."


_DIGITS = re.compile(r"(\d+)")


def natural_key(name: str) -> tuple:
    """'img2' before 'img10', case-insensitive, ties broken by the exact name."""
    parts: list = _DIGITS.split(name.casefold())
    parts[1::2] = map(int, parts[1::2])  # the digit runs (a split's captured groups)
    return (tuple(parts), name)


def is_image_name(name: str) -> bool:
    """Whether an installed reader decodes files with this name's extension."""
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def skip_reason(path: str | os.PathLike, name: str | None = None) -> str | None:
    """None when the file is an image candidate, else why it is skipped (a key of
    :data:`~core.data.formats.SKIP_REASONS`). The extension decides when it is known; an
    unknown one is decided by the file's first bytes (:func:`looks_like_image`)."""
    name = os.path.basename(path) if name is None else name
    if name.startswith("._"):
        return "fork"
    ext = os.path.splitext(name)[1].lower()
    if ext in IMAGE_EXTENSIONS:
        return None
    missing = missing_reader(ext)
    if missing is not None:
        return missing
    known = NOT_IMAGE_EXTENSIONS.get(ext)
    if known is not None:
        return known
    return None if looks_like_image(path) or pillow_identifies(path) else "other"


def pillow_identifies(path: str | os.PathLike) -> bool:
    """Whether Pillow identifies the file as an image it decodes (the header only: no pixels
    are decoded). For unknown extensions whose first bytes carry no strong signature, so that
    nothing an image reader opens is called a file that is not an image (a SPIDER or IMT file
    under another name)."""
    try:
        with open(path, "rb") as fh, Image.open(fh) as img:
            return img.format not in _UNDECODABLE
    except Exception as e:  # any failure to identify is "not an image" here
        log.debug("Pillow does not identify %s: %s", path, e)
        return False


def _signatures() -> list:
    Image.init()
    return [
        (fmt, Image.OPEN[fmt][1])
        for fmt in Image.ID
        if fmt in _SNIFFED and fmt in Image.OPEN and Image.OPEN[fmt][1] is not None
    ]


def image_signature(path: str | os.PathLike) -> str | None:
    """The image format whose signature the file's first 16 bytes (what Pillow looks at)
    carry, among those a reader decodes; None for none, or an unreadable file. Cheap: one
    small read."""
    try:
        with open(path, "rb") as fh:
            prefix = fh.read(16)
    except OSError:
        return None
    for fmt, accept in _signatures():
        try:
            if accept(prefix):
                return fmt
        except (IndexError, ValueError, TypeError):  # a plugin's check on a short prefix
            continue
    return None


def looks_like_image(path: str | os.PathLike) -> bool:
    """Whether the file starts with the signature of an image format a reader decodes."""
    return image_signature(path) is not None


def _is_hidden(entry: os.DirEntry) -> bool:
    if entry.name.startswith("."):
        return True
    if os.name == "nt":
        try:
            attrs = entry.stat(follow_symlinks=False).st_file_attributes
            return bool(attrs & (stat.FILE_ATTRIBUTE_HIDDEN | stat.FILE_ATTRIBUTE_SYSTEM))
        except (OSError, AttributeError):
            return False
    return False


def iter_image_files(
    paths: Iterable[str | os.PathLike] | str | os.PathLike,
    stats: ScanStats | None = None,
    should_stop: StopFlag = None,
) -> Iterator[Path]:
    """Yield image candidates under ``paths`` (files and folders, recursive), streaming.

    Order: the arguments in the order given; inside a folder, entries in natural order and
    each subfolder listed where its name sorts (so the order equals a natural sort of relative
    paths). Symlinks are followed, but a folder is never entered twice and a file never
    yielded twice (compared by real path: hard links are distinct files).
    """
    return map(Path, image_paths(paths, stats, should_stop))


def image_paths(
    paths: Iterable[str | os.PathLike] | str | os.PathLike,
    stats: ScanStats | None = None,
    should_stop: StopFlag = None,
    before_waiting: Callable[[], None] | None = None,
) -> Iterator[str]:
    """:func:`iter_image_files` as strings (each what ``str()`` of its Path is): a Path per
    file was a third of the listing's time, all of it holding the GIL. ``before_waiting()`` is
    called before what can take long: reading a folder (a network share), taking the next of
    ``paths`` (a generator may wait)."""
    stats = stats if stats is not None else ScanStats()
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    seen_files: set[str] = set()
    seen_dirs: set[tuple[int, int]] = set()

    def claim_file(real: str) -> bool:
        if real in seen_files:
            stats.duplicates += 1
            return False
        seen_files.add(real)
        return True

    for raw in _then_wait(paths, before_waiting):
        if stop_requested(should_stop):
            return
        root = Path(raw)
        try:
            st = root.stat()
        except FileNotFoundError:
            stats.errors.append(f"{root}: no such file or folder")
            continue
        except OSError as e:
            stats.errors.append(f"{root}: {e.strerror or e}")
            continue
        if stat.S_ISDIR(st.st_mode):
            stopped = stop_check(should_stop)
            yield from _walk(root, st, stats, stopped, claim_file, seen_dirs, before_waiting)
        else:
            reason = skip_reason(root)
            if reason is not None:
                stats.skip(str(root), reason)
            elif claim_file(os.path.realpath(root)):
                stats.found += 1
                yield str(root)


def _then_wait(items: Iterable, before_waiting: Callable[[], None] | None) -> Iterator:
    """``items``, with ``before_waiting()`` called before taking each next one (a generator
    of paths may wait for it)."""
    for item in items:
        yield item
        if before_waiting is not None:
            before_waiting()


def _sorted_entries(folder: str, stats: ScanStats) -> list[os.DirEntry]:
    try:
        with os.scandir(folder) as it:
            entries = list(it)
    except OSError as e:
        stats.errors.append(f"{folder}: cannot list folder ({e.strerror or e})")
        return []
    entries.sort(key=lambda e: natural_key(e.name))
    return entries


def _prefix(folder: str) -> str:
    """What goes before a name in ``folder`` for the path ``str(Path(folder) / name)``."""
    return "" if folder == "." else os.path.join(folder, "")


def _walk(root, root_stat, stats, stopped, claim_file, seen_dirs, before_waiting) -> Iterator[str]:
    key = (root_stat.st_dev, root_stat.st_ino)
    if key in seen_dirs:
        stats.duplicates += 1
        return
    seen_dirs.add(key)

    def listing(folder: str, real: str) -> tuple[str, str, Iterator[os.DirEntry]]:
        if before_waiting is not None:
            before_waiting()
        return _prefix(folder), real, iter(_sorted_entries(folder, stats))

    # A stack of (path prefix, real folder path, iterator over its sorted entries):
    # depth-first, streaming.
    stack = [listing(str(root), os.path.realpath(root))]
    checked = 0
    while stack:
        prefix, real_dir, entries = stack[-1]
        entry = next(entries, None)
        if entry is None:
            stack.pop()
            continue
        checked += 1
        if checked % 256 == 0 and stopped():
            return
        if _is_hidden(entry):
            stats.skip(entry.path, "fork" if entry.name.startswith("._") else "hidden")
            continue
        try:
            is_dir = entry.is_dir()
            is_file = not is_dir and entry.is_file()
        except OSError:
            is_dir = is_file = False
        if is_dir:
            try:
                st = entry.stat()
            except OSError as e:
                stats.errors.append(f"{entry.path}: {e.strerror or e}")
                continue
            key = (st.st_dev, st.st_ino)
            if key in seen_dirs:  # a symlink loop or a folder reached twice
                stats.duplicates += 1
                continue
            seen_dirs.add(key)
            if stopped():
                return
            real = (
                os.path.realpath(entry.path)
                if entry.is_symlink()
                else f"{real_dir}{os.sep}{entry.name}"
            )
            stack.append(listing(prefix + entry.name, real))
        elif is_file:
            reason = skip_reason(entry.path, entry.name)
            if reason is not None:
                stats.skip(entry.path, reason)
                continue
            real = (
                os.path.realpath(entry.path)
                if entry.is_symlink()
                else f"{real_dir}{os.sep}{entry.name}"
            )
            if claim_file(real):
                if stopped():
                    return
                stats.found += 1
                yield prefix + entry.name
        else:  # broken symlink, socket, fifo...
            if is_image_name(entry.name) and entry.is_symlink():
                stats.errors.append(f"{entry.path}: broken link")
            else:
                stats.skip(entry.path, "other")


_LIST_QUEUE_MAX = 800  # chunks of paths listed ahead (200,000 paths: a few MB of strings)
_CHUNK = 256  # paths handed over at once: a queue hand-over per path was a third of the work
_DONE = object()


class BackgroundLister:
    """Lists candidates on a background thread into a bounded queue (strings only), in chunks
    of up to ``_CHUNK`` paths: what is listed is handed over before each folder is read, so
    a slow folder never holds back the paths found before it."""

    def __init__(self, paths, stats: ScanStats, should_stop):
        self._queue: queue.Queue = queue.Queue(maxsize=_LIST_QUEUE_MAX)
        self._stop = threading.Event()
        self._outer_stop = should_stop
        self._stats = stats
        self._chunk: list[str] = []
        self._ready: collections.deque[str] = collections.deque()
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
            for p in image_paths(paths, self._stats, self._stopped, self._hand_over):
                self._chunk.append(p)
                count += 1
                if len(self._chunk) >= _CHUNK:
                    self._hand_over()
            if self._stopped():
                return  # a partial count is no total
            self._hand_over()
            self.total = count
        except BaseException as e:  # surfaced to the consumer
            self.error = e
            log.exception("listing failed")
        finally:
            self._put(_DONE, self._stop.is_set)  # the consumer may still wait for it

    def _hand_over(self) -> None:
        if self._chunk:
            chunk, self._chunk = self._chunk, []
            self._put(chunk, self._stopped)

    def _put(self, item, stopped: Callable[[], bool]) -> None:
        """Into the queue, waiting for room while the consumer is slow (not once stopped)."""
        while not stopped():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def next(self, block: bool, should_stop=None) -> str | None:
        """The next path, or None (listing finished, nothing ready without blocking, stopped)."""
        if not self._ready and not self.finished:
            self._refill(block, should_stop)
        if not self._ready:
            return None
        self.taken += 1
        return self._ready.popleft()

    def _refill(self, block: bool, should_stop) -> None:
        while True:
            try:
                item = self._queue.get(block=block, timeout=0.1 if block else None)
            except queue.Empty:
                if not block or stop_requested(should_stop):
                    return
                continue
            if item is _DONE:
                self.finished = True
                if self.error is not None:
                    raise PigeonholeError(f"Could not list the images: {self.error}")
                return
            self._ready.extend(item)
            return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
