"""What a cluster run classifies: local folders and files, listed as a local run lists them
(core.data.listing), and object-store or filesystem URIs that pyarrow understands (``s3://``,
``gs://``, ``file://``...), listed with the same rules: image extensions Pillow decodes, hidden
files and folders skipped, natural order of the relative paths.

Listing happens once, on the machine that starts the run, so the total is known and every file
is exactly one row. Reading happens on the workers: a local path must be visible there under the
same name (one machine, or a shared filesystem); a URI is read through pyarrow. Needs pyarrow
(it comes with ``ray[data]``) only for URIs.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from functools import cache

from ..data.listing import ScanStats, is_image_name, iter_image_files, natural_key, skip_reason
from ..errors import ClusterError, ImageLoadError, first_line
from ..tasks import StopFlag, stop_requested

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_uri(source: str | os.PathLike) -> bool:
    """``source`` names a file or folder through a URI scheme (``s3://``, ``file://``...), not a
    local path (a Windows drive letter is not a scheme: it has no ``//``)."""
    return bool(_SCHEME.match(os.fspath(source)))


def check_sources(sources: Iterable[str | os.PathLike]) -> None:
    """Every local path given exists, and every URI's scheme is one pyarrow can read: said in
    one line before the model loads. (Whether a URI exists is found when it is listed.)"""
    from pathlib import Path

    missing = []
    for s in sources:
        if is_uri(s):
            _filesystem(os.fspath(s))
        elif not Path(s).exists():
            missing.append(os.fspath(s))
    if missing:
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        raise ClusterError(f"No such file or folder: {', '.join(missing[:3])}{more}.")


def list_sources(
    sources: Iterable[str | os.PathLike], stats: ScanStats, should_stop: StopFlag = None
) -> list[str]:
    """Every image candidate under ``sources``, in the order a local run gives: the sources in
    the order given, each listed in natural order. Local paths as core.data.listing yields them
    (relative stays relative); URIs as ``scheme://path``. What cannot be listed goes to
    ``stats.errors``, as a local run's does."""
    found: list[str] = []
    local: list[str] = []
    for source in sources:
        if stop_requested(should_stop):
            break
        text = os.fspath(source)
        if not is_uri(text):
            local.append(text)
            continue
        found += [str(p) for p in iter_image_files(local, stats, should_stop)]
        local = []
        found += _list_uri(text, stats)
    found += [str(p) for p in iter_image_files(local, stats, should_stop)]
    return found


def _list_uri(uri: str, stats: ScanStats) -> list[str]:
    from pyarrow import fs

    filesystem, root = _filesystem(uri)
    scheme = uri.split("://", 1)[0]
    try:
        info = filesystem.get_file_info(root)
        if info.type == fs.FileType.NotFound:
            stats.errors.append(f"{uri}: no such file or folder")
            return []
        if info.type == fs.FileType.File:
            return _single(uri, info.base_name, stats)
        listed = filesystem.get_file_info(fs.FileSelector(root, recursive=True))
    except OSError as e:
        stats.errors.append(f"{uri}: cannot list ({first_line(e)})")
        return []
    keep: list[tuple[tuple, str]] = []
    hidden_folders: set[str] = set()
    prefix = root.rstrip("/") + "/"
    for entry in listed:
        if entry.type != fs.FileType.File:
            continue
        rel = entry.path[len(prefix) :] if entry.path.startswith(prefix) else entry.base_name
        parts = rel.split("/")
        uri_of = f"{scheme}://{entry.path}"
        hidden = next((i for i, part in enumerate(parts) if part.startswith(".")), None)
        if hidden is not None and hidden < len(parts) - 1:  # inside a hidden folder: once
            folder = f"{scheme}://{prefix}{'/'.join(parts[: hidden + 1])}"
            if folder not in hidden_folders:
                hidden_folders.add(folder)
                stats.skip(folder, "hidden")
            continue
        if hidden is not None:
            stats.skip(uri_of, "fork" if parts[-1].startswith("._") else "hidden")
            continue
        reason = _skip_reason(uri_of, parts[-1])
        if reason is not None:
            stats.skip(uri_of, reason)
        else:
            keep.append((tuple(natural_key(p) for p in parts), uri_of))
    keep.sort()
    stats.found += len(keep)
    return [uri for _key, uri in keep]


def _single(uri: str, name: str, stats: ScanStats) -> list[str]:
    reason = _skip_reason(uri, name)
    if reason is not None:
        stats.skip(uri, reason)
        return []
    stats.found += 1
    return [uri]


def _skip_reason(uri: str, name: str) -> str | None:
    """The local listing's reason to skip a file, by its name: an unknown extension is not
    sniffed (that would read every such object), so it is skipped as "other"."""
    if is_image_name(name):
        return None
    return skip_reason(uri, name) or "other"


@cache
def _filesystem(uri: str):
    """(pyarrow filesystem, path inside it) for a URI; one line when pyarrow cannot."""
    try:
        from pyarrow import fs
    except ImportError:
        raise ClusterError(
            f"{uri}: reading URIs needs pyarrow; install it with: pip install 'pigeonhole[cluster]'"
        ) from None
    try:
        return fs.FileSystem.from_uri(uri)
    except (ValueError, OSError, ImportError) as e:  # unknown scheme, no such bucket, no s3 build
        raise ClusterError(f"{uri}: cannot open ({first_line(e)})") from None


def read_uri(uri: str) -> bytes:
    """The bytes of the file at ``uri``. Raises :class:`ImageLoadError` with the reason a row
    shows (the same words as a local file's: moved or deleted, permission...)."""
    scheme, rest = uri.split("://", 1)
    if scheme == "file":  # the filesystem is the machine's; the path is absolute
        base, inner = "file:///", "/" + rest.lstrip("/")
    else:  # one filesystem per bucket (its region, its credentials); the path is bucket/key
        base, inner = f"{scheme}://{rest.split('/', 1)[0]}", rest
    try:
        filesystem, _root = _filesystem(base)
        with filesystem.open_input_file(inner) as fh:
            return fh.read()
    except FileNotFoundError:
        raise ImageLoadError("file not found (moved or deleted since it was listed)") from None
    except PermissionError:
        raise ImageLoadError("permission denied") from None
    except (OSError, ClusterError) as e:
        raise ImageLoadError(f"cannot read ({first_line(e)})") from None
