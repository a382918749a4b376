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
    """Worker body: core.checkpoints.load_model. An untrusted pickle becomes a NeedsTrust."""
    from pigeonhole.core.errors import (
        ArchitectureError,
        Cancelled,
        CheckpointError,
        UntrustedCheckpointError,
    )
    from pigeonhole.core.models.checkpoints import load_model

    outer = progress

    def progress(done: int, total: int) -> None:  # a download stops when cancelled
        if should_stop is not None and should_stop.is_set():
            raise Cancelled("Loading cancelled.")
        if outer is not None:
            outer(done, total)

    try:
        if req.checkpoint is None:
            return load_model(req.arch, pretrained=True, progress=progress)
        try:  # the checkpoint says (or its weights show) which network it is
            return load_model(
                None, req.checkpoint, classes_file=req.classes, trust=req.trust, progress=progress
            )
        except UntrustedCheckpointError:
            raise
        except (CheckpointError, ArchitectureError) as first:
            if not req.arch:
                raise
            try:
                return load_model(
                    req.arch,
                    req.checkpoint,
                    classes_file=req.classes,
                    trust=req.trust,
                    progress=progress,
                )
            except UntrustedCheckpointError:
                raise
            except (CheckpointError, ArchitectureError):
                raise first from None
    except UntrustedCheckpointError as e:
        return NeedsTrust(str(e))


def prepare_for_inference(loaded) -> None:
    """Do now, while "Loading…" shows, the one-time work the first run would otherwise do
    (conv+BN fusion: a copy and an fx trace that keep the GIL busy for a moment)."""
    try:
        from pigeonhole.core.fusion import fuse_conv_bn
    except ImportError:
        return
    try:
        fuse_conv_bn(loaded.model)  # cached per model; the Classifier reuses it
    except Exception:  # an optimisation only: the first run fuses (or does without) itself
        log.debug("conv+BN fusion ahead of the first run failed", exc_info=True)


def found_checkpoints() -> list[str]:
    """Checkpoints shipped in the app's weights folder."""
    from pigeonhole.core.fileio import weights_dir

    folder = weights_dir()
    if not folder.is_dir():
        return []
    return sorted(str(p) for p in folder.iterdir() if p.suffix.lower() in CHECKPOINT_EXTENSIONS)
