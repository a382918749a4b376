"""What the Train tab's worker threads run: the dataset scan and the training itself (with
thumbnails of what it got wrong; the save is gui.train.output's). Nothing here touches Qt."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ...core.data.datasets import DatasetPlan, plan_dataset
from ...core.errors import ImageLoadError, UntrustedCheckpointError
from ...core.training.records import TrainConfig
from ..widgets.model_loading import NeedsTrust
from ..widgets.torch_support import import_torch, needs_full_install

if TYPE_CHECKING:  # (torch: imported by the training worker, not when the window opens)
    from ...core.models.loaded import ModelSource

THUMB_SIDE = 96  # the misclassified images' thumbnails
MAX_THUMBS = 60


def scan_task(
    folder: str, val_split: float, seed: int, *, should_stop=None, progress=None
) -> DatasetPlan:
    """Worker body: find the classes and images under ``folder`` and split them."""
    return plan_dataset(folder, val_split=val_split, seed=seed)


@dataclass(frozen=True, slots=True)
class TrainingRequest:
    """What to train: the base network as core describes it (a checkpoint or ImageNet
    weights, with the person's preprocessing choice and trust, exactly as `pigeonhole train`
    loads it) and the options (how the backbone runs among them)."""

    source: ModelSource
    config: TrainConfig


def train_task(plan: DatasetPlan, request: TrainingRequest, *, should_stop=None, progress=None):
    """Worker-thread generator: train, then make thumbnails of the misclassified images.
    Returns (TrainResult, {path: Thumbnail}), or NeedsTrust when the base checkpoint needs
    pickle code the person has not trusted yet."""
    from ...core.data.images import load_image
    from ...core.data.preprocessing import make_thumbnail
    from ...core.errors import PigeonholeError

    if import_torch() is not None:  # (one thread imports torch at a time)
        raise PigeonholeError(needs_full_install("Training"))
    from ...core.training.fine_tune import train_classifier

    try:
        result = yield from train_classifier(
            None,
            request.source,
            config=request.config,
            plan=plan,
            should_stop=should_stop,
            progress=progress,
        )
    except UntrustedCheckpointError as e:
        return NeedsTrust(str(e))
    thumbs = {}
    for m in result.misclassified[:MAX_THUMBS]:
        try:
            thumbs[m.path] = make_thumbnail(load_image(m.path, draft_size=THUMB_SIDE), THUMB_SIDE)
        except ImageLoadError:
            pass
    return result, thumbs
