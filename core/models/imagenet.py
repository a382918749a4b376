"""torchvision's ImageNet weights: where torch keeps them, the download (with progress, atomic,
hash-checked), and the 1000 category names.

The cache is torch's own (``torch.hub.get_dir()/checkpoints``, which follows ``TORCH_HOME``), with
the file name torchvision uses, so weights downloaded by other torchvision programs are reused.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import re
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from ..errors import CheckpointError, WeightsUnavailableError
from ..fileio import atomic_write
from .archs import get_arch, imagenet_category_names

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
_CHUNK = 1 << 20


def imagenet_weights_cached(arch: str) -> bool:
    spec = get_arch(arch)
    return spec.weights_url is not None and weights_file(spec.name).is_file()


def imagenet_state_dict(arch: str, progress: Progress | None = None) -> dict:
    """torchvision's ImageNet state_dict for ``arch``: from torch's cache, else downloaded."""
    spec = get_arch(arch)
    if not spec.weights_url:
        raise WeightsUnavailableError(f"torchvision has no ImageNet weights for {spec.name}.")
    target = weights_file(spec.name)
    if not target.is_file():
        download(spec.weights_url, target, progress, spec.weights_size_mb, spec.name)
    import torch

    try:
        return torch.load(target, map_location="cpu", weights_only=True)
    except Exception as e:
        log.debug("cached weights %s unreadable", target, exc_info=True)
        raise CheckpointError(
            f"The downloaded weights {target} are damaged; delete that file and try again."
        ) from e


@functools.cache
def imagenet_categories(arch: str) -> tuple[str, ...]:
    """The 1000 ImageNet category names (every torchvision ImageNet-1K weights share them)."""
    cats = imagenet_category_names()
    return cats if len(cats) == 1000 else tuple(f"class_{i}" for i in range(1000))


def hub_dir() -> Path:
    """torch's hub folder (``torch.hub.get_dir()``), found without importing torch when it is
    not imported yet: ``$TORCH_HOME/hub``, else ``$XDG_CACHE_HOME/torch/hub`` (~/.cache)."""
    torch = sys.modules.get("torch")
    if torch is not None and hasattr(torch, "hub"):
        return Path(torch.hub.get_dir())
    cache = os.getenv("XDG_CACHE_HOME", os.path.join("~", ".cache"))
    home = os.getenv("TORCH_HOME", os.path.join(cache, "torch"))
    return Path(os.path.expanduser(home)) / "hub"


def weights_file(arch: str) -> Path:
    url = get_arch(arch).weights_url or ""
    return hub_dir() / "checkpoints" / os.path.basename(url)


_HASH = re.compile(r"-([a-f0-9]*)\.")


def download(
    url: str,
    target: Path,
    progress: Progress | None,
    size_mb: float | None,
    arch: str | None = None,
) -> None:
    """Fetch ``url`` in chunks into ``target`` (atomically), checking torchvision's hash prefix.
    A failure is one sentence for the person: what could not be done, the likely reason, and
    what to do instead (the system's own words, e.g. ``[Errno -2]``, go to the log)."""
    log.info("Downloading %s to %s", url, target)
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            total = int(response.headers.get("Content-Length") or 0)
            done = 0
            with atomic_write(target, "wb") as fh:
                while chunk := response.read(_CHUNK):
                    fh.write(chunk)
                    digest.update(chunk)
                    done += len(chunk)
                    if progress is not None:
                        progress(done, total)
                m = _HASH.search(os.path.basename(url))
                if m and m.group(1) and not digest.hexdigest().startswith(m.group(1)):
                    raise CheckpointError(
                        f"The download of {target.name} was corrupted; try again."
                    )
    except OSError as e:  # URLError, timeouts, connection resets; or writing the file
        log.info("download of %s failed: %s", url, e)
        what = f"the ImageNet weights for {arch}" if arch else f"the weights {target.name}"
        if isinstance(e, urllib.error.HTTPError):
            why = f"the server answered {e.code}."
        elif isinstance(e, urllib.error.URLError | TimeoutError | ConnectionError):
            why = "no internet connection?"
        else:
            why = f"{e.strerror or e} while saving it."
        size = f" ({size_mb:.0f} MB)" if size_mb else ""
        raise WeightsUnavailableError(
            f"Could not download {what}: {why} Choose a checkpoint file instead, or put "
            f"{target.name}{size} in {target.parent}."
        ) from None
