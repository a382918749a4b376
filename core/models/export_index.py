"""Which checkpoint files have an ONNX export in the engine cache, found without torch.

The engine cache (core.runtime.onnx_export) keeps a network's export by the hash of its weights,
which only torch can compute. This index, ``cache_dir()/onnx-checkpoints.json``, maps a
checkpoint FILE to its export: keyed by the file's content hash (its size and modification time
answer first, so an unchanged file is not read again), with what loading the file alone gave
(architecture, class names, preprocessing, notes) and the files beside it that loading reads
(a names file, config.json...), so the next run of that file needs no torch and says the same.
A changed file, or a changed file beside it, no longer matches: torch loads it again and the
entry is written anew. Writing is atomic; two processes writing at once lose an entry at worst.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from ..fileio import cache_dir, write_text_atomic
from .files import SIDECAR_NAMES

log = logging.getLogger(__name__)

INDEX_FORMAT = 1
#: Files beside a checkpoint that loading it reads (names, another tool's preprocessing), as
#: well as ``<stem>.txt`` and ``<name>.txt``.
BESIDE_NAMES = (*SIDECAR_NAMES, "config.json", "preprocessor_config.json")
_SMALL = 1 << 20  # files beside a checkpoint up to this size are told apart by their content


@dataclass(frozen=True, slots=True)
class FileFacts:
    """What a checkpoint file alone gave when it was loaded (before the person's own names
    file and preprocessing): JSON-able ``facts``, and the weights' version then (in memory
    only: an export of weights changed since, e.g. a head trained in place, is not the file's).
    """

    facts: dict
    weights_version: tuple


@dataclass(frozen=True, slots=True)
class CachedExport:
    """A checkpoint file's entry: its export's folder in the engine cache and its facts."""

    folder: Path
    facts: dict


def index_path() -> Path:
    return cache_dir() / "onnx-checkpoints.json"


def content_hash(path: Path) -> str:
    """SHA-256 of a file's bytes, read in 1 MB pieces."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def beside(path: Path) -> dict[str, str | None]:
    """A fingerprint of each file beside ``path`` that loading it reads (None: absent)."""
    names = dict.fromkeys((f"{path.stem}.txt", f"{path.name}.txt", *BESIDE_NAMES))
    out: dict[str, str | None] = {}
    for name in names:
        try:
            st = path.with_name(name).stat()
        except OSError:
            out[name] = None
            continue
        if st.st_size <= _SMALL:
            out[name] = hashlib.sha1(path.with_name(name).read_bytes()).hexdigest()
        else:
            out[name] = f"{st.st_size}:{st.st_mtime_ns}"
    return out


def _read() -> dict:
    try:
        data = json.loads(index_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"format": INDEX_FORMAT, "paths": {}, "entries": {}}
    if not isinstance(data, dict) or data.get("format") != INDEX_FORMAT:
        return {"format": INDEX_FORMAT, "paths": {}, "entries": {}}
    data.setdefault("paths", {})
    data.setdefault("entries", {})
    return data


def _file_key(path: Path, data: dict) -> str | None:
    """The file's content hash: remembered when its size and modification time are the same
    as when it was hashed, else computed now, but only when some entry has a file of its size
    (a file the index cannot know is not read). None when it cannot be read or known."""
    try:
        st = path.stat()
        known = data["paths"].get(str(path))
        if known and known[0] == st.st_size and known[1] == st.st_mtime_ns:
            return str(known[2])
        sizes = {e.get("size") for e in data["entries"].values() if isinstance(e, dict)}
        return content_hash(path) if st.st_size in sizes else None
    except (OSError, TypeError, IndexError):
        return None


def find_export(checkpoint: str | os.PathLike) -> CachedExport | None:
    """The export of ``checkpoint`` (this very content, with the same files beside it) in the
    engine cache, or None. Reads the file only when it changed since it was last hashed."""
    path = Path(checkpoint).resolve()
    data = _read()
    key = _file_key(path, data)
    entry = data["entries"].get(key) if key else None
    if not isinstance(entry, dict):
        return None
    if entry.get("name") != path.name or entry.get("beside") != beside(path):
        return None  # loading reads the file's name and what is beside it: not the same facts
    folder = Path(entry.get("export", ""))
    if not (folder / "fp32.onnx").is_file():
        return None  # the cache was cleared
    return CachedExport(folder, dict(entry.get("facts") or {}))


def remember_export(checkpoint: str | os.PathLike, facts: dict, folder: Path) -> None:
    """Record that ``checkpoint``'s export is in ``folder``, with the facts loading it gave.
    A failure to write is logged, never raised: the index only saves time."""
    path = Path(checkpoint).resolve()
    try:
        st = path.stat()
        key = content_hash(path)
        data = _read()
        data["paths"][str(path)] = [st.st_size, st.st_mtime_ns, key]
        data["entries"][key] = {
            "size": st.st_size,
            "name": path.name,
            "beside": beside(path),
            "export": str(folder),
            "facts": facts,
        }
        write_text_atomic(index_path(), json.dumps(data, indent=1, ensure_ascii=False))
    except (OSError, TypeError, ValueError):
        log.info("could not record the ONNX export of %s", path, exc_info=True)
