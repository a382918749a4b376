"""Loading a model off the UI thread: the request and the worker body (the model panel runs it
through a WorkerSlot)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from .drop_zone import CHECKPOINT_EXTENSIONS

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LoadRequest:
    arch: str | None
    checkpoint: str | None
    classes: str | None
    trust: bool = False


@dataclass(frozen=True, slots=True)
class NeedsTrust:
    """The checkpoint needs pickle code: ask the person before loading it."""

    message: str


def load_task(req: LoadRequest, *, should_stop=None, progress=None):
    """Worker body: load the model, then prepare it for inference (see prepare_for_inference)."""
    result = _load(req, should_stop=should_stop, progress=progress)
    if not isinstance(result, NeedsTrust):
        prepare_for_inference(result)
    return result


def _load(req: LoadRequest, *, should_stop=None, progress=None):
    """Worker body: core's load_model, the same call the CLI makes (the order of guesses lives
    there, not here). An untrusted pickle becomes a NeedsTrust."""
    from pigeonhole.core.errors import Cancelled, UntrustedCheckpointError
    from pigeonhole.core.models.checkpoints import ModelSource, load_model

    outer = progress

    def progress(done: int, total: int) -> None:  # a download stops when cancelled
        if should_stop is not None and should_stop.is_set():
            raise Cancelled("Loading cancelled.")
        if outer is not None:
            outer(done, total)

    source = ModelSource(
        checkpoint=req.checkpoint, arch=req.arch, classes_file=req.classes, trust=req.trust
    )
    try:
        return load_model(source, progress=progress)
    except UntrustedCheckpointError as e:
        return NeedsTrust(str(e))


def prepare_for_inference(loaded) -> None:
    """Do now, while "Loading…" shows, the one-time work the first run would otherwise do
    (conv+BN fusion: a copy and an fx trace that keep the GIL busy for a moment)."""
    from pigeonhole.core.runtime.fusion import fuse_for_inference

    fuse_for_inference(loaded)  # kept on the LoadedModel; every Classifier of it reuses it


def found_checkpoints() -> list[str]:
    """Checkpoints shipped in the app's weights folder."""
    from pigeonhole.core.fileio import weights_dir

    folder = weights_dir()
    if not folder.is_dir():
        return []
    return sorted(str(p) for p in folder.iterdir() if p.suffix.lower() in CHECKPOINT_EXTENSIONS)
