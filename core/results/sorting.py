"""Sort classified images into ``<dest>/<label>/`` folders: copy (default) or move, undoable.

Nothing is ever overwritten: a name already taken (on disk, or earlier in the same run) gets a
suffix, ``name_1.jpg``, ``name_2.jpg``. Copies go to a hidden temp name first, so the final name
never holds half a file; the temp files a killed run left behind are removed by the next sort
into the same folders (core.fileio's rules: ours only, once stale). A move writes its manifest
(every planned move) before touching the first file, so :func:`undo_move` can put each file
back even after a crash. The destination is checked before anything is planned.
"""

from __future__ import annotations

import datetime as _dt
import errno
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


@dataclass(slots=True)
class SortReport:
    mode: str  # "copy", "move" or "undo"
    placed: list[tuple[str, str]] = field(default_factory=list)  # (src, dst)
    errors: list[str] = field(default_factory=list)
    manifest: Path | None = None
    cancelled: bool = False

    def line(self) -> str:
        verb = {"copy": "copied", "move": "moved", "undo": "put back"}.get(self.mode, self.mode)
        text = f"{len(self.placed)} images {verb}"
        if self.errors:
            text += f", {len(self.errors)} failed"
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
    plan = _plan(
        list(items), dest, unsure_threshold, safe_folder_name(unsure_name, "unsure"), report
    )
    total = len(plan)
    manifest_data = None
    if mode == "move" and plan:
        report.manifest = _new_manifest_path(dest)
        manifest_data = {
            "format": MANIFEST_FORMAT,
            "version": 1,
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
        try:
            dst.parent.mkdir(parents=True, exist_ok=True)
            if mode == "copy":
                _copy_file(src, dst)
            else:
                _move_file(src, dst)
                manifest_data["moves"][i]["done"] = True
            report.placed.append((str(src), str(dst)))
        except OSError as e:
            report.errors.append(f"{src}: {e.strerror or e}")
        if manifest_data is not None and (i + 1) % _SAVE_EVERY == 0:
            write_text_atomic(report.manifest, json.dumps(manifest_data, indent=1))
        if progress is not None:
            progress(i + 1, total)
    if manifest_data is not None:
        write_text_atomic(report.manifest, json.dumps(manifest_data, indent=1))
    log.info("sort into %s: %s", dest, report.line())
    return report


def undo_move(manifest: str | os.PathLike) -> SortReport:
    """Put every moved file back where it was; a file whose old place is taken stays put
    (and is reported), nothing is overwritten."""
    manifest = Path(manifest)
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
        moves = data["moves"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise PigeonholeError(f"{manifest.name} is not a readable move manifest.") from e
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
    for folder in data.get("created_folders", []):
        _remove_if_empty(Path(folder))  # only folders the move created, and only if empty
    data["undone"] = not report.errors
    write_text_atomic(manifest, json.dumps(data, indent=1))
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
) -> list[tuple[Path, Path]]:
    taken: dict[Path, set[str]] = {}
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
        names = taken.get(folder)
        if names is None:  # names already there, case-blind as on macOS/Windows
            remove_stale_temp_files(folder)  # once per folder: copies a killed run left
            names = taken[folder] = {n.casefold() for n in _listdir(folder)}
        plan.append((src, folder / _unique_name(folder, src.name, names)))
    return plan


def _unique_name(folder: Path, name: str, taken: set[str]) -> str:
    """``name``, or ``stem_1.ext``, ``stem_2.ext``... free on disk and in this run (case-blind)."""
    stem, suffix = os.path.splitext(name)
    candidate, i = name, 0
    while candidate.casefold() in taken or (folder / candidate).exists():
        i += 1
        candidate = f"{stem}_{i}{suffix}"
    taken.add(candidate.casefold())
    return candidate


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
