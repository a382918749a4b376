"""Loading a model off the UI thread: the request and the worker body (the model panel runs it
through a WorkerSlot)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ...core.models.files import is_checkpoint_name, is_onnx_name
from ...core.runtime.options import RunOptions
from .model_choices import imagenet_key
from .torch_support import import_torch, needs_full_install

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LoadRequest:
    """What to load (a checkpoint with an optional names file, or an architecture's ImageNet
    weights; a preprocessing preset, None for what the model states) and how it will run
    (the loader prepares the model for that)."""

    arch: str | None
    checkpoint: str | None
    classes: str | None
    trust: bool = False
    preprocess: str | None = None
    run: RunOptions = RunOptions()

    def source(self):
        """What to load, as core describes it (a ModelSource; the Network box is a hint for a
        checkpoint). Imported here: core's model loading pulls torch, the window must not."""
        from ...core.models.loaded import ModelSource

        return ModelSource.chosen(
            self.checkpoint,
            self.arch,
            classes=self.classes,
            trust=self.trust,
            preprocessing=self.preprocess,
        )

    @property
    def needs_torch(self) -> bool:
        """Loading it imports torch: ImageNet weights, a PyTorch checkpoint (unless its ONNX
        export is cached: core.runtime.loading); never an ONNX model."""
        return self.checkpoint is None or not is_onnx_name(self.checkpoint)

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
    (see prepare_for_inference). ImageNet weights import torch first (one thread at a time:
    gui.widgets.torch_support); without torch, a message saying what needs it."""
    from ...core.errors import PigeonholeError

    if req.checkpoint is None and import_torch() is not None:
        raise PigeonholeError(needs_full_install("Loading ImageNet weights"))
    result = _load(req, should_stop=should_stop, progress=progress)
    if (
        not isinstance(result, NeedsTrust)
        and not result.is_onnx
        and runs_on_torch(result.arch, req)
    ):
        prepare_for_inference(result)
    return result


def _load(req: LoadRequest, *, should_stop=None, progress=None):
    """Worker body: core's load_for_run, the same call the CLI's predict makes (the order of
    guesses lives there, not here): an ONNX model, or a checkpoint whose export is cached,
    without torch. An untrusted pickle becomes a NeedsTrust."""
    from ...core.errors import Cancelled, PigeonholeError, UntrustedCheckpointError
    from ...core.runtime.kept import APP_KEEP
    from ...core.runtime.loading import load_for_run

    outer = progress

    def progress(done: int, total: int) -> None:  # a download stops when cancelled
        if should_stop is not None and should_stop.is_set():
            raise Cancelled("Loading cancelled.")
        if outer is not None:
            outer(done, total)

    try:
        return load_for_run(req.source(), req.run, progress=progress, keep=APP_KEEP)
    except UntrustedCheckpointError as e:
        return NeedsTrust(str(e))
    except ImportError as e:  # torch is needed for this file, and cannot be imported here
        if (e.name or "").split(".")[0] not in ("torch", "torchvision"):
            raise
        raise PigeonholeError(needs_full_install("Reading this checkpoint")) from e


def runs_on_torch(arch: str, req: LoadRequest) -> bool:
    """Whether the run the request's options describe would run ``arch`` on torch (asked of
    the one planner; ONNX Runtime exports the unfused model; a choice that cannot work
    prepares nothing: the run says what is wrong)."""
    from ...core.errors import PigeonholeError
    from ...core.runtime.plan import plan_run

    try:
        return plan_run(arch, req.run).engine == "torch"
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
    return sorted(str(p) for p in folder.iterdir() if is_checkpoint_name(p.name))
