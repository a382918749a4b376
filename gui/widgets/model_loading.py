"""Loading a model off the UI thread: the request and the worker body (the model panel runs it
through a WorkerSlot)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from .drop_zone import CHECKPOINT_EXTENSIONS
from .model_choices import imagenet_key

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LoadRequest:
    """What to load (a checkpoint with an optional names file, or an architecture's ImageNet
    weights; a preprocessing preset, None for what the model states) and how it will run
    (device, precision, engine: the loader prepares the model for that)."""

    arch: str | None
    checkpoint: str | None
    classes: str | None
    trust: bool = False
    preprocess: str | None = None
    device: str = "auto"
    precision: str = "auto"
    engine: str = "auto"

    @property
    def key(self) -> str:
        """The model this request is for: the checkpoint's path, or the ImageNet weights of
        the architecture (the key its names file and preprocessing are remembered under)."""
        return self.checkpoint or imagenet_key(self.arch or "")


@dataclass(frozen=True, slots=True)
class NeedsTrust:
    """The checkpoint needs pickle code: ask the person before loading it."""

    message: str


def load_task(req: LoadRequest, *, should_stop=None, progress=None):
    """Worker body: load the model, then prepare it for inference where torch will run it
    (see prepare_for_inference)."""
    result = _load(req, should_stop=should_stop, progress=progress)
    if not isinstance(result, NeedsTrust) and runs_on_torch(result.arch, req):
        prepare_for_inference(result)
    return result


def _load(req: LoadRequest, *, should_stop=None, progress=None):
    """Worker body: core's load_model, the same call the CLI makes (the order of guesses lives
    there, not here). An untrusted pickle becomes a NeedsTrust."""
    from ...core.errors import Cancelled, UntrustedCheckpointError
    from ...core.models.checkpoints import ModelSource, load_model
    from ...core.models.transforms import PreprocessingOverride

    outer = progress

    def progress(done: int, total: int) -> None:  # a download stops when cancelled
        if should_stop is not None and should_stop.is_set():
            raise Cancelled("Loading cancelled.")
        if outer is not None:
            outer(done, total)

    source = ModelSource(
        checkpoint=req.checkpoint,
        arch=req.arch,
        classes_file=req.classes,
        trust=req.trust,
        preprocessing=PreprocessingOverride(preset=req.preprocess) if req.preprocess else None,
    )
    try:
        return load_model(source, progress=progress)
    except UntrustedCheckpointError as e:
        return NeedsTrust(str(e))


def runs_on_torch(arch: str, req: LoadRequest) -> bool:
    """Whether a run with the request's device, precision and engine runs ``arch`` on torch
    (ONNX Runtime exports the unfused model; a choice that cannot work prepares nothing: the
    run says what is wrong)."""
    from ...core.errors import PigeonholeError
    from ...core.runtime.plan import plan_run

    try:
        return plan_run(arch, req.device, req.precision, engine=req.engine).engine == "torch"
    except PigeonholeError:
        return False


def prepare_for_inference(loaded) -> None:
    """Do now, while "Loading…" shows, the one-time work a torch run would otherwise do first
    (conv+BN fusion: a copy and an fx trace that keep the GIL busy for a moment)."""
    from ...core.runtime.fusion import fuse_for_inference

    fuse_for_inference(loaded)  # kept on the LoadedModel; every Classifier of it reuses it


def found_checkpoints() -> list[str]:
    """Checkpoints shipped in the app's weights folder."""
    from ...core.fileio import weights_dir

    folder = weights_dir()
    if not folder.is_dir():
        return []
    return sorted(str(p) for p in folder.iterdir() if p.suffix.lower() in CHECKPOINT_EXTENSIONS)
