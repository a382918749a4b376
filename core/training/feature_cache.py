"""The on-disk feature cache: ``cache_dir()/features/<model key>/shard-*.pt``.

Each shard is ``{"keys": [...], "features": tensor}``, written atomically and never modified;
the model key (architecture, weights hash, transform, precision) names the folder, and each
image key holds the file's resolved path, size, modification time and the view, so a changed
file misses the cache and an unchanged one hits it. Shards are merged when there are many.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import uuid
from pathlib import Path

import torch

from ..fileio import atomic_write, cache_dir

log = logging.getLogger(__name__)

AUG_SCALE = (0.25, 1.0)  # RandomResizedCrop's area range for augmented views (part of the key)
_MAX_SHARDS = 16  # compact into one shard above this
_MEMORY_ENTRIES = 2  # backbones whose cached features stay in memory
_MEMORY: dict[Path, tuple[tuple[str, ...], dict[str, torch.Tensor]]] = {}


def image_key(path: Path, view: int, seed: int) -> str | None:
    """Cache key of one view of one file, or None if the file cannot be stat'ed."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    tag = "eval" if view == 0 else f"aug{AUG_SCALE}:{seed}:{view}"
    return f"{Path(path).resolve()}|{st.st_size}|{st.st_mtime_ns}|{tag}"


class FeatureCache:
    """Features of one backbone (``model_key``) on disk, as append-only shards."""

    def __init__(self, model_key: str, root: Path | None = None):
        self.folder = (root or cache_dir() / "features") / model_key
        self._pending_keys: list[str] = []
        self._pending: list[torch.Tensor] = []

    def _shards(self) -> list[Path]:
        return sorted(self.folder.glob("shard-*.pt")) if self.folder.is_dir() else []

    def load(self) -> dict[str, torch.Tensor]:
        """Every cached feature of this backbone (kept in memory while the shards are unchanged,
        so a second training in the same session does not read the disk again)."""
        shards = self._shards()
        signature = tuple(s.name for s in shards)
        held = _MEMORY.get(self.folder)
        if held is not None and held[0] == signature:
            return dict(held[1])
        out: dict[str, torch.Tensor] = {}
        for shard in shards:
            try:
                data = torch.load(shard, map_location="cpu", weights_only=True)
                out.update(zip(data["keys"], data["features"], strict=True))
            except Exception as e:  # a damaged shard only costs re-extraction
                log.warning("ignoring damaged feature cache shard %s: %s", shard, e)
        _MEMORY.pop(self.folder, None)
        while len(_MEMORY) >= _MEMORY_ENTRIES:
            _MEMORY.pop(next(iter(_MEMORY)))
        _MEMORY[self.folder] = (signature, out)
        return dict(out)

    def add(self, key: str, feature: torch.Tensor) -> None:
        self._pending_keys.append(key)
        self._pending.append(feature)

    def flush(self) -> None:
        if not self._pending:
            return
        data = {"keys": self._pending_keys, "features": torch.stack(self._pending)}
        name = f"shard-{time.time_ns():020d}-{uuid.uuid4().hex[:6]}.pt"
        with atomic_write(self.folder / name, "wb") as fh:
            torch.save(data, fh)
        self._pending_keys, self._pending = [], []
        if len(self._shards()) > _MAX_SHARDS:
            self.compact()

    def compact(self) -> None:
        shards = self._shards()
        merged = self.load()
        if not merged:
            return
        data = {"keys": list(merged), "features": torch.stack(list(merged.values()))}
        with atomic_write(self.folder / f"shard-{time.time_ns():020d}-all.pt", "wb") as fh:
            torch.save(data, fh)
        for s in shards:
            with contextlib.suppress(OSError):
                s.unlink()

    def clear(self) -> None:
        for s in self._shards():
            with contextlib.suppress(OSError):
                s.unlink()
