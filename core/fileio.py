"""Output files: checked before the work, written atomically, never lost; per-OS app folders.

* :func:`check_output_file` / :func:`check_output_folder` refuse a bad output path (a folder
  where a file is wanted, a path under a regular file, an unwritable folder, an unknown suffix)
  with one line naming the option, before any work starts.
* Every file the app writes goes through :func:`atomic_write`: a temp file in the same folder,
  flushed and fsynced, then ``os.replace``d over the final path, so a crash never leaves a
  half-written file where the user expects a finished one. The file gets the permissions a
  plain ``open()`` would give (the umask applies; an overwritten file keeps its mode), and
  temp files that an earlier, killed write left behind are removed (ours only, once stale).
* :func:`write_with_fallback` writes somewhere else when the place asked for turned bad during
  a long run, so work the user paid for (a trained model, an hour of results) is never lost.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
import stat
import sys
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import platformdirs

from .errors import OutputPathError

log = logging.getLogger(__name__)

APP_NAME = "Pigeonhole"

#: Temp files of our own writes: ``.<name>.pigeonhole-<12 hex>.tmp`` (atomic writes) or
#: ``.part`` (file copies, core.results.sorting). Only names of this shape are ever cleaned up.
TEMP_NAME = re.compile(r"^\..+\.pigeonhole-[0-9a-f]{12}\.(tmp|part)$")
#: A temp file untouched for this long belongs to a write that died (a live write keeps
#: touching its file); younger ones may belong to another process writing right now.
STALE_TEMP_AGE_S = 3600.0


def temp_path_for(path: str | os.PathLike, kind: str = "tmp") -> Path:
    """A fresh hidden temp name beside ``path``, in the shape :func:`remove_stale_temp_files`
    recognises (``kind``: "tmp" for atomic writes, "part" for copies)."""
    path = Path(path)
    return path.with_name(f".{path.name}.pigeonhole-{secrets.token_hex(6)}.{kind}")


def remove_stale_temp_files(
    folder: str | os.PathLike, older_than_s: float = STALE_TEMP_AGE_S
) -> list[Path]:
    """Delete our own temp files in ``folder`` (not its subfolders) untouched for
    ``older_than_s`` seconds: what writes killed mid-way (``kill -9``, power loss) left behind.
    Returns what was removed; a folder that cannot be listed is left alone."""
    removed: list[Path] = []
    limit = time.time() - older_than_s
    try:
        with os.scandir(folder) as it:
            candidates = [e for e in it if e.name.startswith(".") and TEMP_NAME.match(e.name)]
    except OSError as e:
        log.debug("not cleaning temp files in %s: %s", folder, e)
        return removed
    for entry in candidates:
        try:
            st = entry.stat(follow_symlinks=False)
            if not stat.S_ISREG(st.st_mode) or st.st_mtime > limit:
                continue
            os.unlink(entry.path)
        except OSError as e:
            log.debug("could not remove stale temp file %s: %s", entry.path, e)
            continue
        removed.append(Path(entry.path))
        log.info("removed a temp file an interrupted write left behind: %s", entry.path)
    return removed


def _open_new(path: Path) -> int:
    """Create ``path`` (must not exist) for writing with mode 0666: the kernel applies the
    umask (and a folder's default ACL) exactly as for a plain ``open(path, "w")``."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    return os.open(path, flags | getattr(os, "O_CLOEXEC", 0), 0o666)


def _new_temp(path: Path, kind: str = "tmp") -> tuple[int, Path]:
    for _ in range(100):
        tmp = temp_path_for(path, kind)
        try:
            return _open_new(tmp), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temp name beside {path}")


def _keep_mode(fd: int, tmp: Path, target: Path) -> None:
    """Give the temp file the mode (and, where allowed, the group) of the file it replaces."""
    try:
        st = os.stat(target)
    except OSError:
        return  # a new file: the umask already decided
    if not stat.S_ISREG(st.st_mode):
        return
    if hasattr(os, "fchmod"):
        os.fchmod(fd, stat.S_IMODE(st.st_mode))
        if hasattr(os, "fchown") and os.fstat(fd).st_gid != st.st_gid:
            try:
                os.fchown(fd, -1, st.st_gid)
            except OSError as e:  # not a member of that group: the mode is what matters
                log.debug("could not keep the group of %s: %s", target, e)
    else:  # Windows: only the read-only bit exists
        os.chmod(tmp, stat.S_IMODE(st.st_mode))


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where folders cannot be opened."""
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as e:
        log.debug("fsync of folder %s failed: %s", folder, e)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_write(
    path: str | os.PathLike,
    mode: str = "w",
    encoding: str | None = "utf-8",
    newline: str | None = None,
) -> Iterator[IO]:
    """Open a temp file next to ``path``; on success it replaces ``path`` in one step.

    A symlink at ``path`` is written through (the link stays a link). The finished file has
    the permissions ``open(path, "w")`` would give it."""
    path = Path(path)
    if path.is_symlink():
        path = Path(os.path.realpath(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(path.parent)
    binary = "b" in mode
    fd, tmp = _new_temp(path)
    try:
        try:
            _keep_mode(fd, tmp, path)
            fh = os.fdopen(
                fd, mode, encoding=None if binary else encoding, newline=None if binary else newline
            )
        except BaseException:
            os.close(fd)
            raise
        with fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_folder(path.parent)


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    with atomic_write(path, "wb") as fh:
        fh.write(data)


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    with atomic_write(path, "w") as fh:
        fh.write(text)


# ---------------------------------------------------------------------------------------------
# Output paths, checked before the work


def _describe(suffixes: Collection[str]) -> str:
    items = list(suffixes)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def _probe_writable(folder: Path, name: str) -> None:
    """Create and delete a temp file in ``folder``: the only test of writability that tells
    the truth everywhere (root, read-only mounts, ACLs, network shares)."""
    fd, tmp = _new_temp(folder / name)
    os.close(fd)
    os.unlink(tmp)


def _folder_problem(folder: Path, name: str) -> str | None:
    """Why a file called ``name`` cannot be created in ``folder`` (missing folders included,
    as they would be created), or None when it can."""
    existing = folder
    while not existing.exists():
        if existing.is_symlink():  # a link to nowhere: creating the folder would fail
            return f"{existing} is a broken link"
        if existing.parent == existing:
            break
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is a file, not a folder"
    try:
        _probe_writable(existing, name or "output")
    except OSError as e:
        return f"the folder {existing} is not writable ({e.strerror or e})"
    return None


def _check_folder(folder: Path, option: str, target: Path) -> None:
    problem = _folder_problem(folder, target.name)
    if problem:
        raise OutputPathError(f"{option}: cannot write {target}: {problem}.")


def check_output_file(
    path: str | os.PathLike, option: str, suffixes: Collection[str] | None = None
) -> Path:
    """Refuse, before any work, an output file that could not be written: a folder, a path
    under a regular file, an unwritable folder, a read-only file, a suffix not in ``suffixes``
    (lower-case, with the dot). ``option`` names the setting in the one-line
    :class:`OutputPathError` (e.g. "--out"). Returns the path, ``~`` expanded. Creates nothing
    (the missing folders are created when the file is written)."""
    raw = os.fspath(path)
    if not raw.strip():
        raise OutputPathError(f"{option}: no file name given.")
    target = Path(raw).expanduser()
    if raw.endswith(("/", os.sep)) or target.is_dir():
        example = f", e.g. {target / ('name' + next(iter(suffixes)))}" if suffixes else " in it"
        raise OutputPathError(f"{option}: {target} is a folder; give a file name{example}.")
    if suffixes and target.suffix.lower() not in suffixes:
        raise OutputPathError(f"{option}: {target.name} must end in {_describe(suffixes)}.")
    if target.exists() and not target.is_file():
        raise OutputPathError(f"{option}: {target} exists and is not a regular file.")
    if target.is_file() and not os.access(target, os.W_OK):
        raise OutputPathError(f"{option}: {target} is read-only; choose another name.")
    _check_folder(target.parent, option, target)
    return target


def check_output_folder(path: str | os.PathLike, option: str) -> Path:
    """Refuse, before any work, an output folder that could not be written: a regular file, a
    path under one, a folder that is not writable or cannot be created. Returns the path."""
    raw = os.fspath(path)
    if not raw.strip():
        raise OutputPathError(f"{option}: no folder given.")
    target = Path(raw).expanduser()
    if target.exists() and not target.is_dir():
        raise OutputPathError(f"{option}: {target} is a file, not a folder.")
    _check_folder(target, option, target)
    return target


# ---------------------------------------------------------------------------------------------
# Writing that never loses the work


@dataclass(frozen=True, slots=True)
class SavedOutput:
    """Where :func:`write_with_fallback` put the file, and why not where asked (if so)."""

    path: Path
    wanted: Path
    problem: str | None = None  # None: written where asked

    @property
    def fell_back(self) -> bool:
        return self.problem is not None


def _free_name(folder: Path, name: str) -> Path:
    """``folder/name``, or ``stem-2.ext``, ``stem-3.ext``... whichever does not exist yet."""
    path = folder / name
    stem, suffix = os.path.splitext(name)
    n = 2
    while path.exists() or path.is_symlink():
        path = folder / f"{stem}-{n}{suffix}"
        n += 1
    return path


def _reason(e: BaseException, path: Path) -> str:
    """Why writing ``path`` failed, in words: what is wrong with the path if something is (the
    folder became a file, turned read-only...), else the system's own message."""
    if path.is_dir():
        return f"{path} is a folder"
    problem = _folder_problem(path.parent, path.name)
    if problem:
        return problem
    if isinstance(e, OSError):
        return e.strerror or type(e).__name__
    return str(e)


def write_with_fallback(
    path: str | os.PathLike,
    write: Callable[[Path], object],
    fallback_folders: Sequence[str | os.PathLike | Callable[[], Path]] | None = None,
) -> SavedOutput:
    """``write(path)``; if that fails (the folder vanished, became a file, filled up or turned
    read-only during the run), ``write`` to the same name in each of ``fallback_folders`` in
    turn (folders, or functions returning one, called only when needed; default: the current
    folder, then :func:`data_dir`), never replacing a file there. Raises
    :class:`OutputPathError` naming every place tried if none worked."""
    wanted = Path(path).expanduser()
    try:
        write(wanted)
        return SavedOutput(wanted, wanted)
    except (OSError, OutputPathError) as e:
        problem = _reason(e, wanted)
        log.info("could not write %s (%s); trying elsewhere", wanted, problem)
    if fallback_folders is None:
        fallback_folders = [Path.cwd, data_dir]
    tried = [str(wanted)]
    for where in fallback_folders:
        try:
            folder = where() if callable(where) else Path(where)
            folder.mkdir(parents=True, exist_ok=True)
            target = _free_name(folder, wanted.name or "output")
            tried.append(str(target))
            write(target)
        except (OSError, OutputPathError) as e:
            log.info("could not write the fallback copy in %s: %s", where, e)
            continue
        return SavedOutput(target, wanted, problem)
    raise OutputPathError(f"Could not write {wanted} ({problem}), nor {', '.join(tried[1:])}.")


def cache_dir() -> Path:
    """Per-OS cache folder (feature cache...); ``PIGEONHOLE_CACHE_DIR`` overrides it."""
    override = os.environ.get("PIGEONHOLE_CACHE_DIR")
    path = Path(override) if override else Path(platformdirs.user_cache_dir(APP_NAME, False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_dir() -> Path:
    """Per-OS data folder (logs, recent files...); ``PIGEONHOLE_DATA_DIR`` overrides it."""
    override = os.environ.get("PIGEONHOLE_DATA_DIR")
    path = Path(override) if override else Path(platformdirs.user_data_dir(APP_NAME, False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def models_dir() -> Path:
    """Where a trained model goes when it cannot go where asked (or nobody said where)."""
    return data_dir() / "models"


def log_file() -> Path:
    return data_dir() / "pigeonhole.log"


def bundle_dir() -> Path:
    """Folder holding the app's bundled files (resources/, weights/): frozen or from source."""
    if getattr(sys, "frozen", False):
        return Path(getattr(sys, "_MEIPASS", Path(sys.executable).parent))
    return Path(__file__).resolve().parent.parent


def resources_dir() -> Path:
    return bundle_dir() / "resources"


def weights_dir() -> Path:
    return bundle_dir() / "weights"
