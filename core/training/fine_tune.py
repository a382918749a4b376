"""Train a new classification layer on a frozen network: the fast fixed-feature-extractor recipe.

The backbone runs once per image (features cached in memory and on disk, see core.training.features);
the head then trains on the cached features, so an epoch costs milliseconds. The result is
the full network (frozen backbone + trained head), ready for Pigeonhole's checkpoint format.

Usage (``ModelSource`` from core.models.checkpoints, ``run_to_end`` from core.tasks)::

    gen = train_classifier("data/hymenoptera", ModelSource.imagenet("resnet18"),
                           config=TrainConfig(epochs=20, augment=2), should_stop=event)
    for record in gen:            # TrainStage | ExtractionProgress | EpochStats
        print(record)
    # the generator's return value (StopIteration.value) is the TrainResult; or, in one call:
    result = run_to_end(train_classifier("data", ModelSource(checkpoint="base.pth")))
    result.save("my-model.pth")   # atomic; loads with `pigeonhole predict --checkpoint`

``should_stop`` (threading.Event or callable) stops extraction within one batch (raises
:class:`Cancelled`) and head training within one mini-batch (returns the best epoch so far,
``result.cancelled`` True). ``progress(done, total)`` follows extraction, then epochs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ..data.datasets import DatasetPlan, plan_dataset
from ..errors import Cancelled, DataError
from ..models.archs import get_arch, head_info, replace_head
from ..models.checkpoints import ModelSource, load_model
from ..results.metrics import ClassMetrics
from ..tasks import stop_check
from .features import (
    ExtractionOutput,
    ExtractionProgress,
    FeatureCache,
    FeatureExtractor,
    FeatureJob,
)
from .head import HeadOutcome, evaluate_head, train_head
from .records import (
    EpochStats,
    Misclassified,
    TrainConfig,
    TrainResult,
    TrainStage,
)

log = logging.getLogger(__name__)

__all__ = [
    "ClassMetrics",
    "EpochStats",
    "ExtractionProgress",
    "Misclassified",
    "TrainConfig",
    "TrainResult",
    "TrainStage",
    "train_classifier",
]


def train_classifier(
    data_dir: str | Path | None,
    source: ModelSource | None = None,
    *,
    val_dir: str | Path | None = None,
    config: TrainConfig | None = None,
    plan: DatasetPlan | None = None,
    base=None,
    should_stop=None,
    progress: Callable | None = None,
) -> Iterator[TrainStage | ExtractionProgress | EpochStats]:
    """Generator: train a head for the classes under ``data_dir``; returns a TrainResult.

    Base weights: what ``source`` describes (a checkpoint, or an architecture's ImageNet
    weights), or an already loaded ``base`` (a LoadedModel, used as is and modified in place).
    The result keeps the base's preprocessing (a fine-tuned classification-pytorch checkpoint
    stays a classification-pytorch model) and its checkpoint records it.

    The steps: load the base, extract features, fit the head, evaluate it."""
    cfg = config or TrainConfig()
    cfg.validate()
    if plan is None:
        if data_dir is None:
            raise DataError("No training folder given.")
        plan = plan_dataset(data_dir, val_dir=val_dir, val_split=cfg.val_split, seed=cfg.seed)
    if not plan.train:
        raise DataError("No training images.")
    if base is None:
        base = yield from _load_base(source, progress)
    arch_name = get_arch(base.require_torch("Training").arch).name
    if stop_check(should_stop)():
        raise Cancelled("Training cancelled.")
    out, model = yield from _extract_features(plan, base, arch_name, cfg, should_stop, progress)
    split = _split_features(plan, out)

    yield TrainStage("train", f"Training the {plan.num_classes}-class head")
    t_train = time.perf_counter()
    outcome: HeadOutcome = yield from train_head(
        split.train_x,
        split.train_y,
        split.val_x,
        split.val_y,
        plan.num_classes,
        cfg,
        head_info(arch_name).kind,
        should_stop=should_stop,
        progress=progress,
    )
    training_s = time.perf_counter() - t_train
    _install_head(model, arch_name, plan.num_classes, outcome)

    yield TrainStage("evaluate", "Measuring per-class precision and recall")
    report = _evaluate(plan, out, split, outcome)
    return _result(cfg, plan, base, model, out, outcome, report, training_s)


def _load_base(source: ModelSource | None, progress: Callable | None):
    """Generator: load the base network ``source`` describes, saying what and how it reads."""
    if source is None:
        raise DataError("No base network given (an architecture or a checkpoint).")
    yield TrainStage("weights", f"Loading {source.describe()}")
    base = load_model(source, progress=progress)
    yield TrainStage("preprocessing", base.preprocessing_line())
    return base


def _extract_features(
    plan: DatasetPlan, base, arch_name: str, cfg: TrainConfig, should_stop, progress
):
    """Generator: the features of every training view and validation image; returns them with
    the full network (its original head back in place)."""
    # The first time a base network is seen, the CPU engine exports it (seconds): say so.
    yield TrainStage("prepare", f"Preparing {arch_name} for feature extraction")
    extractor = FeatureExtractor(
        base.model,
        arch_name,
        base.transform,
        cfg.run,
    )
    try:
        cache = FeatureCache(extractor.key) if cfg.use_cache else None
        jobs = [FeatureJob(i, s.path, 0) for i, s in enumerate(plan.train)]
        jobs += [
            FeatureJob(i, s.path, v)
            for v in range(1, cfg.augment + 1)
            for i, s in enumerate(plan.train)
        ]
        jobs += [FeatureJob(len(plan.train) + i, s.path, 0) for i, s in enumerate(plan.val)]
        views = f" x {cfg.augment + 1} views" if cfg.augment else ""
        yield TrainStage(
            "extract",
            f"Extracting features: {len(plan.train)} training images{views}, {len(plan.val)} validation",
        )
        out: ExtractionOutput = yield from extractor.extract(
            jobs, cache=cache, aug_seed=cfg.seed, should_stop=should_stop, progress=progress
        )
    finally:
        model = extractor.restore_head()
    return out, model


@dataclass(slots=True)
class _Split:
    """The extracted features and labels, cut into the training and validation sets."""

    labels: torch.Tensor  # one per extracted job
    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    val_jobs: list[FeatureJob]


def _split_features(plan: DatasetPlan, out: ExtractionOutput) -> _Split:
    """Cut the features into training and validation; refuse a set left unable to train."""
    samples = plan.train + plan.val
    is_val = torch.tensor([j.index >= len(plan.train) for j in out.jobs], dtype=torch.bool)
    labels = torch.tensor([samples[j.index].label for j in out.jobs], dtype=torch.long)
    split = _Split(
        labels=labels,
        train_x=out.features[~is_val],
        train_y=labels[~is_val],
        val_x=out.features[is_val],
        val_y=labels[is_val],
        val_jobs=[j for j in out.jobs if j.index >= len(plan.train)],
    )
    if len(split.train_y) == 0:
        raise DataError("None of the training images could be read.")
    if len(set(split.train_y.tolist())) < 2:
        raise DataError("After skipping unreadable images, fewer than 2 classes have images.")
    return split


def _install_head(model: nn.Module, arch_name: str, num_classes: int, outcome: HeadOutcome) -> None:
    """Put the trained head (standardisation folded in) into the network; eval mode, frozen."""
    replace_head(model, arch_name, num_classes)
    head = model.get_submodule(head_info(arch_name).path)
    with torch.no_grad():
        w, b = outcome.folded
        head.weight.copy_(w.reshape(head.weight.shape))
        head.bias.copy_(b)
    model.eval().requires_grad_(False)


@dataclass(slots=True)
class _Report:
    """How the kept head does on the evaluation split."""

    split: str  # "val", or "train" when there is no validation set
    per_class: list[ClassMetrics]
    confusion: list[list[int]]
    misclassified: list[Misclassified]
    accuracy: float | None
    loss: float | None


def _evaluate(
    plan: DatasetPlan, out: ExtractionOutput, split: _Split, outcome: HeadOutcome
) -> _Report:
    """Per-class precision and recall and the wrong images, on the validation set (or, without
    one, on the plain views of the training images)."""
    if len(split.val_y):
        ex, ey, eval_jobs = split.val_x, split.val_y, split.val_jobs
    else:
        plain = [k for k, j in enumerate(out.jobs) if j.view == 0]
        ex, ey, eval_jobs = out.features[plain], split.labels[plain], [out.jobs[k] for k in plain]
    ev = evaluate_head(outcome.head, ex, ey, plan.num_classes)
    names = plan.class_names
    samples = plan.train + plan.val
    wrong = [
        Misclassified(str(samples[j.index].path), names[t], names[p], round(c, 4))
        for j, t, p, c in zip(
            eval_jobs, ey.tolist(), ev.predicted.tolist(), ev.confidence.tolist(), strict=True
        )
        if t != p
    ]
    return _Report(
        split="val" if len(split.val_y) else "train",
        per_class=[ClassMetrics(n, *vals) for n, vals in zip(names, ev.per_class, strict=True)],
        confusion=ev.confusion,
        misclassified=wrong,
        accuracy=ev.accuracy,
        loss=ev.loss,
    )


def _result(cfg, plan, base, model, out, outcome, report, training_s: float) -> TrainResult:
    """The TrainResult of the steps' outputs; unreadable files counted once, not per view."""
    skipped = list(dict.fromkeys(out.skipped))
    warnings = list(plan.warnings)
    if skipped:
        warnings.append(f"{len(skipped)} image(s) could not be read and were skipped.")
    return TrainResult(
        model=model,
        arch=get_arch(base.arch).name,
        class_names=list(plan.class_names),
        transform=base.transform,
        base=str(base.source),
        history=outcome.history,
        best_epoch=outcome.best_epoch,
        stopped_early=outcome.stopped_early,
        cancelled=outcome.cancelled,
        per_class=report.per_class,
        confusion=report.confusion,
        misclassified=report.misclassified,
        eval_split=report.split,
        val_accuracy=report.accuracy,
        val_loss=report.loss,
        skipped=skipped,
        dataset=plan.summary(),
        config=cfg,
        extraction_s=out.seconds,
        training_s=training_s,
        features_cached=out.cached,
        features_extracted=out.extracted,
        ms_per_image=out.ms_per_image,
        warnings=warnings + ([outcome.diverged] if outcome.diverged else []),
        diverged=outcome.diverged,
    )
