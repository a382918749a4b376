"""Sort classified images into ``<dest>/<label>/`` folders: copy (default) or move, undoable.

Nothing is ever overwritten: a name already taken by another file (on disk, or earlier in the
same run) gets a suffix, ``name_1.jpg``, ``name_2.jpg``, and the report says so (``renamed``);
a copy whose identical file is already there is not made again (``already``: copying into the
same folders twice adds nothing). Copies go to a hidden temp name first, so the final name
never holds half a file; the temp files a killed run left behind are removed by the next sort
into the same folders (core.fileio's rules: ours only, once stale). Both modes write a
manifest (every planned file) before touching the first file, so :func:`undo_sort` can put each
moved file back, or remove each copy made (only while it is still the very file copied: same
size and modification time), even after a crash. The destination is checked before anything is
planned.
"""

from __future__ import annotations

import datetime as _dt
import errno
import filecmp
import json
import logging
import os
import re
import shutil
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import PigeonholeError
from ..fileio import (
    check_output_folder,
    remove_stale_temp_files,
    temp_path_for,
    write_text_atomic,
)

log = logging.getLogger(__name__)

MANIFEST_PREFIX = ".pigeonhole-moves-"
MANIFEST_FORMAT = "pigeonhole-moves"
_SAVE_EVERY = 200  # rewrite the manifest's progress every N moves

_RESERVED = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')
_WINDOWS_NAMES = {"con", "prn", "aux", "nul"} | {
    f"{p}{i}" for p in ("com", "lpt") for i in range(1, 10)
}


@dataclass(frozen=True, slots=True)
class SortItem:
    path: str
    label: str
    confidence: float | None


UNDO_COPY = "undo-copy"
_DONE = {
    "copy": "images copied",
    "move": "images moved",
    "undo": "images put back",
    UNDO_COPY: "copies removed",
}


@dataclass(slots=True)
class SortReport:
    mode: str  # "copy", "move", "undo" (a move put back) or UNDO_COPY (a copy's copies removed)
    placed: list[tuple[str, str]] = field(default_factory=list)  # (src, dst)
    errors: list[str] = field(default_factory=list)
    manifest: Path | None = None
    cancelled: bool = False
    already: list[tuple[str, str]] = field(default_factory=list)  # (src, its identical copy)
    renamed: list[tuple[str, str]] = field(default_factory=list)  # (src, dst): name was taken

    def line(self) -> str:
        """What happened, every count said: "64 images copied, 64 already there"."""
        text = f"{len(self.placed)} {_DONE.get(self.mode, self.mode)}"
        if self.already:
            text += f", {len(self.already)} already there"
        if self.renamed:
            text += f", {len(self.renamed)} renamed (another file had the name)"
        if self.errors:
            text += (
                f", {len(self.errors)} {'left in place' if self.mode == UNDO_COPY else 'failed'}"
            )
        return text + (" (cancelled)" if self.cancelled else "")


def safe_folder_name(label: str, fallback: str = "unlabelled") -> str:
    """``label`` as one safe folder name: no separators, no '..', no reserved characters or
    Windows device names, no leading dot (hidden) or trailing dot/space."""
    name = _RESERVED.sub("_", str(label)).replace("..", "_").strip()
    name = name.rstrip(". ")
    if name.startswith("."):
        name = "_" + name.lstrip(".")
    if not name.strip("_ "):
        return fallback
    if name.split(".")[0].lower() in _WINDOWS_NAMES:
        name += "_"
    return name[:120] or fallback


def sort_into_folders(
    items: Iterable[SortItem],
    dest: str | os.PathLike,
    mode: str = "copy",
    unsure_threshold: float | None = None,
    unsure_name: str = "unsure",
    should_stop: threading.Event | Callable[[], bool] | None = None,
    progress: Callable[[int, int], None] | None = None,
    option: str = "Sort destination",
) -> SortReport:
    """Copy or move each item into ``dest/<label>/`` (``dest/<unsure_name>/`` when its
    confidence is below ``unsure_threshold``). Per-file problems become ``errors``; a
    destination that cannot be written raises :class:`OutputPathError` (its message starts
    with ``option``) before any file is touched."""
    if mode not in ("copy", "move"):
        raise ValueError(f"mode must be 'copy' or 'move', not {mode!r}")
    dest = check_output_folder(dest, option)
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise PigeonholeError(
            f"Cannot create the destination folder {dest}: {e.strerror or e}"
        ) from e
    report = SortReport(mode=mode)
    unsure = safe_folder_name(unsure_name, "unsure")
    plan = _plan(list(items), dest, unsure_threshold, unsure, report, mode == "copy")
    total = len(plan)
    manifest_data = None
    if plan:
        report.manifest = _new_manifest_path(dest)
        manifest_data = {
            "format": MANIFEST_FORMAT,
            "version": 2,
            "mode": mode,
            "created": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
            "dest": str(dest),
            "moves": [{"src": str(s), "dst": str(d), "done": False} for s, d in plan],
            "created_folders": sorted({str(d.parent) for _, d in plan if not d.parent.exists()}),
        }
        write_text_atomic(report.manifest, json.dumps(manifest_data, indent=1))
    for i, (src, dst) in enumerate(plan):
        if _stopped(should_stop):
            report.cancelled = True
            break
        entry = manifest_data["moves"][i]
        try:
            dst.parent.mkdir(parents=True, exist_ok=True)
            if mode == "copy":
                _copy_file(src, dst)
                st = dst.stat()  # what the undo checks: still the very file copied
                entry.update(size=st.st_size, mtime_ns=st.st_mtime_ns)
            else:
                _move_file(src, dst)
            entry["done"] = True
            report.placed.append((str(src), str(dst)))
        except OSError as e:
            report.errors.append(f"{src}: {e.strerror or e}")
        if manifest_data is not None and (i + 1) % _SAVE_EVERY == 0:
            write_text_atomic(report.manifest, json.dumps(manifest_data, indent=1))
        if progress is not None:
            progress(i + 1, total)
    made = manifest_data is not None and any(e["done"] for e in manifest_data["moves"])
    if manifest_data is not None and mode == "copy" and not made:
        report.manifest.unlink()  # no copy made: nothing to undo
        report.manifest = None
    elif manifest_data is not None:
        write_text_atomic(report.manifest, json.dumps(manifest_data, indent=1))
    log.info("sort into %s: %s", dest, report.line())
    return report


def undo_sort(manifest: str | os.PathLike) -> SortReport:
    """Undo a sort: put every moved file back where it was (a file whose old place is taken
    stays put, and is reported: nothing is overwritten), or remove every copy a copy made
    that is still the very file copied (same size and modification time; any other is left
    and reported). Folders the sort created are removed when empty."""
    manifest = Path(manifest)
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
        moves = data["moves"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise PigeonholeError(f"{manifest.name} is not a readable sort manifest.") from e
    if data.get("mode", "move") == "copy":
        report = _remove_copies(moves, manifest)
    else:
        report = _put_back(moves, manifest)
    for folder in data.get("created_folders", []):
        _remove_if_empty(Path(folder))  # only folders the sort created, and only if empty
    data["undone"] = not report.errors
    write_text_atomic(manifest, json.dumps(data, indent=1))
    return report


def _put_back(moves: list[dict], manifest: Path) -> SortReport:
    report = SortReport(mode="undo", manifest=manifest)
    for entry in reversed(moves):
        if entry.get("undone"):
            continue
        src, dst = Path(entry["src"]), Path(entry["dst"])
        if not dst.exists():
            if entry.get("done"):
                report.errors.append(f"{dst}: no longer there, cannot put it back")
            continue
        if src.exists():
            if not entry.get("done"):  # planned but never moved (the run stopped first)
                continue
            report.errors.append(f"{src}: a file is already there; {dst.name} left in {dst.parent}")
            continue
        try:
            src.parent.mkdir(parents=True, exist_ok=True)
            _move_file(dst, src)
        except OSError as e:
            report.errors.append(f"{dst}: {e.strerror or e}")
            continue
        entry["undone"] = True
        report.placed.append((str(dst), str(src)))
    return report


def _remove_copies(copies: list[dict], manifest: Path) -> SortReport:
    """Remove each copy made that is still the file copied; never anything else."""
    report = SortReport(mode=UNDO_COPY, manifest=manifest)
    for entry in reversed(copies):
        if entry.get("undone") or not entry.get("done"):
            continue
        dst = Path(entry["dst"])
        try:
            st = dst.stat()
        except FileNotFoundError:  # removed meanwhile: nothing left to undo
            entry["undone"] = True
            continue
        except OSError as e:
            report.errors.append(f"{dst}: {e.strerror or e}")
            continue
        if (st.st_size, st.st_mtime_ns) != (entry.get("size"), entry.get("mtime_ns")):
            report.errors.append(f"{dst}: changed since it was copied, left in place")
            continue
        try:
            dst.unlink()
        except OSError as e:
            report.errors.append(f"{dst}: {e.strerror or e}")
            continue
        entry["undone"] = True
        report.placed.append((str(dst), str(entry["src"])))
    return report


def find_manifests(dest: str | os.PathLike) -> list[Path]:
    """Move manifests in ``dest``, newest first."""
    return sorted(Path(dest).glob(f"{MANIFEST_PREFIX}*.json"), reverse=True)


# ---------------------------------------------------------------------------------------------


def _plan(
    items: list[SortItem],
    dest: Path,
    threshold: float | None,
    unsure: str,
    report: SortReport,
    skip_identical: bool,
) -> list[tuple[Path, Path]]:
    on_disk: dict[Path, dict[str, str]] = {}  # folder -> {casefolded name: name}
    planned: dict[tuple[Path, str], Path] = {}  # (folder, casefolded name) -> its source
    plan = []
    for item in items:
        src = Path(item.path)
        if not src.is_file():
            report.errors.append(f"{src}: not found")
            continue
        low = threshold is not None and item.confidence is not None and item.confidence < threshold
        folder = dest / (unsure if low else safe_folder_name(item.label))
        if src.parent.resolve() == folder.resolve():  # already in its place
            report.placed.append((str(src), str(src)))
            continue
        names = on_disk.get(folder)
        if names is None:  # names already there, case-blind as on macOS/Windows
            remove_stale_temp_files(folder)  # once per folder: copies a killed run left
            names = on_disk[folder] = {n.casefold(): n for n in _listdir(folder)}
        dst, same = _place(folder, src, names, planned, skip_identical)
        if same is not None:
            report.already.append((str(src), str(same)))
            continue
        if dst.name != src.name:
            report.renamed.append((str(src), str(dst)))
        planned[(folder, dst.name.casefold())] = src
        plan.append((src, dst))
    return plan


def _place(
    folder: Path,
    src: Path,
    on_disk: dict[str, str],
    planned: dict[tuple[Path, str], Path],
    skip_identical: bool,
) -> tuple[Path, Path | None]:
    """Where ``src`` goes in ``folder``: its name, or ``stem_1.ext``, ``stem_2.ext``... free on
    disk and in this run (case-blind); or, with ``skip_identical``, nowhere when a file with
    its name (or one of those) already has its content: (dst, None) or (_, that file)."""
    stem, suffix = os.path.splitext(src.name)
    candidate, i = src.name, 0
    while True:
        key = candidate.casefold()
        source = planned.get((folder, key))
        if source is not None:  # to be copied there earlier in this run
            if skip_identical and _same_content(src, source):
                return folder / candidate, folder / candidate
        elif key in on_disk or (folder / candidate).exists():
            there = folder / on_disk.get(key, candidate)
            if skip_identical and _same_content(src, there):
                return there, there
        else:
            return folder / candidate, None
        i += 1
        candidate = f"{stem}_{i}{suffix}"


def _same_content(a: Path, b: Path) -> bool:
    try:
        return filecmp.cmp(a, b, shallow=False)
    except OSError:
        return False


def _listdir(folder: Path) -> list[str]:
    try:
        return os.listdir(folder)
    except OSError:
        return []


def _copy_file(src: Path, dst: Path) -> None:
    tmp = temp_path_for(dst, "part")
    try:
        shutil.copy2(src, tmp)
        if dst.exists():
            raise FileExistsError(errno.EEXIST, "the destination appeared meanwhile", str(dst))
        os.replace(tmp, dst)
    finally:
        if tmp.exists():
            tmp.unlink()


def _move_file(src: Path, dst: Path) -> None:
    """Move without ever overwriting: hard link + unlink (fails if ``dst`` exists), or, across
    file systems, copy to a temp name, then remove the source."""
    try:
        os.link(src, dst)
    except FileExistsError:
        raise
    except OSError:  # another file system, or links unsupported
        _copy_file(src, dst)
    try:
        os.unlink(src)
    except OSError:  # e.g. a read-only source: take the new copy back, report the failure
        dst.unlink(missing_ok=True)
        raise


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass


def _new_manifest_path(dest: Path) -> Path:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = dest / f"{MANIFEST_PREFIX}{stamp}.json"
    i = 1
    while path.exists():
        path = dest / f"{MANIFEST_PREFIX}{stamp}_{i}.json"
        i += 1
    return path


def _stopped(should_stop) -> bool:
    if should_stop is None:
        return False
    if isinstance(should_stop, threading.Event):
        return should_stop.is_set()
    return bool(should_stop())
