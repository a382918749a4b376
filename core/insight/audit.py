"""Likely mislabelled images in a labelled folder (one sub-folder per class), ranked.

The ranking needs probabilities the model did not learn from the image itself: a model that saw
an image with its wrong label during training tends to agree with that label. So the network's
features are extracted once (cached, as for training), the folder is split into ``folds``
stratified parts, and for each part a new classification layer is trained on the others and
predicts it: every image gets out-of-sample class probabilities, in seconds, from features
extracted once.

Then confident learning (Northcutt et al., 2021): each class ``j`` gets its own threshold, the
mean probability of ``j`` over the images labelled ``j`` (a per-class cut, not a global one, so
a class the model is less sure of is judged by its own standard). An image is a likely label
issue when another class clears its threshold and is the most probable such class. Suspects
come first, ordered by how little probability their given label got (self-confidence); the
rest follow in the same order. The method is a few lines of numpy: no cleanlab (AGPL-3.0 in
some versions, which a bundled desktop app cannot take lightly)."""

from __future__ import annotations

import copy
import random
from collections.abc import Generator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from ..data.datasets import list_class_folders
from ..errors import DataError
from ..models.archs import head_info
from ..models.loaded import LoadedModel
from ..runtime.options import RunOptions
from ..tasks import StopFlag, stop_check
from ..training.fine_tune import TrainConfig
from ..training.head import train_head
from .embeddings import extract_embeddings

MIN_PER_CLASS = 2  # each fold's head needs every class


@dataclass(frozen=True, slots=True)
class Suspect:
    """One image of the folder, as the audit sees it: ``score`` is 1 minus the out-of-sample
    probability of its given label (higher: more suspect); ``flagged`` when confident learning
    calls it a label issue."""

    path: str
    given_label: str
    suggested_label: str
    score: float
    flagged: bool


@dataclass(frozen=True, slots=True)
class AuditReport:
    ranking: tuple[Suspect, ...]  # every image, most suspect first
    classes: tuple[str, ...]
    probabilities: np.ndarray  # (n, classes) out-of-sample, in ``paths`` order
    paths: tuple[str, ...]
    labels: np.ndarray  # given label index per path
    skipped: tuple[tuple[str, str], ...]  # (path, reason): unreadable images

    @property
    def flagged(self) -> tuple[Suspect, ...]:
        return tuple(s for s in self.ranking if s.flagged)


@dataclass(frozen=True, slots=True)
class AuditStage:
    """Said between the steps (extracting features, fitting fold n of k)."""

    text: str


def labelled_files(folder: str | Path) -> tuple[list[str], list[Path], list[int]]:
    """(class names, files, label index per file) of a folder of class folders."""
    classes, _ignored = list_class_folders(Path(folder))
    classes = {name: files for name, files in classes.items() if files}
    if len(classes) < 2:
        raise DataError(f"{folder} needs at least 2 class folders with images to audit.")
    small = [name for name, files in classes.items() if len(files) < MIN_PER_CLASS]
    if small:
        raise DataError(f"Each class needs at least {MIN_PER_CLASS} images: {', '.join(small)}.")
    names = list(classes)
    files = [f for name in names for f in classes[name]]
    labels = [i for i, name in enumerate(names) for _ in classes[name]]
    return names, files, labels


def fold_of(labels: Sequence[int], folds: int, seed: int = 0) -> np.ndarray:
    """A fold number per image, stratified: each class spread evenly over the folds."""
    out = np.zeros(len(labels), dtype=np.int64)
    rng = random.Random(seed)
    for c in sorted(set(labels)):
        idx = [i for i, y in enumerate(labels) if y == c]
        rng.shuffle(idx)
        for k, i in enumerate(idx):
            out[i] = k % folds
    return out


def out_of_sample_probabilities(
    x: torch.Tensor,
    y: torch.Tensor,
    classes: int,
    folds: int,
    config: TrainConfig,
    stop,
    kind: str = "linear",
) -> Generator[AuditStage, None, np.ndarray]:
    """(n, classes) probabilities, each row from a head that never saw that image."""
    fold = fold_of(y.tolist(), folds, config.seed)
    probs = np.zeros((len(y), classes), dtype=np.float64)
    for k in range(folds):
        yield AuditStage(f"Fitting fold {k + 1} of {folds}")
        held = torch.from_numpy(fold == k)
        gen = train_head(x[~held], y[~held], x[:0], y[:0], classes, config, kind, should_stop=stop)
        while True:
            try:
                next(gen)
            except StopIteration as end:
                outcome = end.value
                break
        outcome.head.eval()
        with torch.no_grad():
            probs[held.numpy()] = outcome.head(x[held]).softmax(1).double().numpy()
    return probs


def confident_learning(probs: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(flagged, suggested) per image: per-class thresholds (the mean probability of a class
    over the images given it); an image is flagged when the most probable class clearing its
    threshold is not its given one."""
    classes = probs.shape[1]
    thresholds = np.array(
        [probs[labels == j, j].mean() if np.any(labels == j) else 1.0 for j in range(classes)]
    )
    above = probs >= thresholds[None, :] - 1e-12
    candidates = np.where(above, probs, -1.0)
    best = candidates.argmax(1)
    confident = above.any(1)
    flagged = confident & (best != labels)
    suggested = np.where(flagged, best, probs.argmax(1))
    return flagged, suggested


def rank(
    paths: Sequence[str], labels: np.ndarray, probs: np.ndarray, classes: Sequence[str]
) -> tuple[Suspect, ...]:
    flagged, suggested = confident_learning(probs, labels)
    self_confidence = probs[np.arange(len(labels)), labels]
    order = np.lexsort((self_confidence, ~flagged))  # flagged first, then least confident
    return tuple(
        Suspect(
            path=str(paths[i]),
            given_label=classes[labels[i]],
            suggested_label=classes[suggested[i]],
            score=float(1.0 - self_confidence[i]),
            flagged=bool(flagged[i]),
        )
        for i in order
    )


def audit_labels(
    base: LoadedModel,
    folder: str | Path,
    options: RunOptions | None = None,
    *,
    folds: int = 5,
    use_cache: bool = True,
    should_stop: StopFlag = None,
    progress=None,
) -> Generator[object, None, AuditReport]:
    """Generator: yields AuditStage and ExtractionProgress records; returns the AuditReport.
    ``base`` is the network whose features judge the images (its own head is not used)."""
    classes, files, labels = labelled_files(folder)
    return (
        yield from audit_files(
            base, classes, files, labels, options,
            folds=folds, use_cache=use_cache, should_stop=should_stop, progress=progress,
        )
    )  # fmt: skip


def audit_files(
    base: LoadedModel,
    classes: Sequence[str],
    files: Sequence[str | Path],
    labels: Sequence[int],
    options: RunOptions | None = None,
    *,
    folds: int = 5,
    use_cache: bool = True,
    should_stop: StopFlag = None,
    progress=None,
) -> Generator[object, None, AuditReport]:
    """:func:`audit_labels` for files and their given labels (indices into ``classes``) from
    anywhere: the Classify tab's results from class-named folders. Features come from the
    feature cache where it has them."""
    check_labels(classes, labels)
    yield AuditStage(f"Extracting features of {len(files)} images")
    output = yield from extract_embeddings(
        base, files, options, use_cache=use_cache, should_stop=should_stop, progress=progress
    )
    kept = [j.index for j in output.jobs]
    report = yield from audit_features(
        output.features,
        [labels[i] for i in kept],
        classes,
        [str(files[i]) for i in kept],
        folds=folds,
        kind=head_info(base.arch).kind,
        use_cache=use_cache,
        should_stop=should_stop,
    )
    return replace(report, skipped=tuple(output.skipped))


def audit_features(
    features: torch.Tensor | np.ndarray,
    labels: Sequence[int],
    classes: Sequence[str],
    paths: Sequence[str],
    *,
    folds: int = 5,
    kind: str = "linear",
    use_cache: bool = True,
    should_stop: StopFlag = None,
) -> Generator[AuditStage, None, AuditReport]:
    """The audit on features already at hand, a row per path (the embeddings a classification
    run kept: no second pass over the images). ``kind``: the head the network has."""
    stop = stop_check(should_stop)
    check_labels(classes, labels)
    x = (
        features.float()
        if torch.is_tensor(features)
        else torch.from_numpy(np.asarray(features, dtype=np.float32))
    )
    y = torch.as_tensor(list(labels), dtype=torch.long)
    counts = torch.bincount(y)
    folds = max(2, min(int(folds), int(counts[counts > 0].min())))
    config = TrainConfig(epochs=30, patience=0, use_cache=use_cache)
    probs = yield from out_of_sample_probabilities(x, y, len(classes), folds, config, stop, kind)
    ranking = rank(tuple(paths), y.numpy(), probs, classes)
    return AuditReport(ranking, tuple(classes), probs, tuple(paths), y.numpy(), ())


def audit_results(
    base: LoadedModel | None,
    classes: Sequence[str],
    paths: Sequence[str],
    labels: Sequence[int],
    embeddings: np.ndarray | None = None,
    options: RunOptions | None = None,
    *,
    folds: int = 5,
    should_stop: StopFlag = None,
    progress=None,
) -> Generator[object, None, AuditReport]:
    """The audit of a classification run's results (the images of class-named folders): on
    the embeddings the run kept ((N, D), a row per path) when it kept them, else on features
    extracted from a private copy of ``base``, so the window's model is never touched while
    other runs use it."""
    if embeddings is not None:
        kind = head_info(base.arch).kind if base is not None else "linear"
        return (
            yield from audit_features(
                embeddings, labels, classes, paths, folds=folds, kind=kind,
                should_stop=should_stop,
            )
        )  # fmt: skip
    if base is None or base.is_onnx:
        raise DataError(
            "Finding mislabelled images needs a PyTorch model loaded (its features judge the "
            "images), or results that kept their embeddings."
        )
    private = replace(base, model=copy.deepcopy(base.model), fused=None, fused_from=())
    return (
        yield from audit_files(
            private, classes, paths, labels, options,
            folds=folds, should_stop=should_stop, progress=progress,
        )
    )  # fmt: skip


def check_labels(classes: Sequence[str], labels: Sequence[int]) -> None:
    """DataError unless at least 2 classes have images and each has :data:`MIN_PER_CLASS`."""
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=len(classes))
    present = [c for c in range(len(classes)) if counts[c]]
    if len(present) < 2:
        raise DataError("The audit needs images of at least 2 classes.")
    small = [classes[c] for c in present if counts[c] < MIN_PER_CLASS]
    if small:
        raise DataError(f"Each class needs at least {MIN_PER_CLASS} images: {', '.join(small)}.")
