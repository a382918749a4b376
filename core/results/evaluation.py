"""Evaluation on labelled folders: when the images sit in folders named like the model's classes
(``val/ants/...``, ``val/bees/...``), each one has a ground truth, and a run can say how often
the model is right: accuracy, per-class precision/recall/F1, the confusion matrix, and which
images disagree. A folder named like no class is not an error: its images have no ground truth.
"""

from __future__ import annotations

import os
import re
from collections.abc import Generator, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .metrics import Metrics, metrics_from_confusion
from .predictions import BatchResult, Prediction, RunSummary

_SEPARATORS = re.compile(r"[\s_\-]+")
MAX_DEPTH = 3  # folders above an image looked at when no root is given


def _key(name: str) -> str:
    return _SEPARATORS.sub(" ", name).strip().casefold()


class GroundTruth:
    """Finds the class an image's folder names, for a model's class names."""

    def __init__(self, class_names: Sequence[str], roots: Iterable[str | os.PathLike] = ()):
        self.class_names = list(class_names)
        self._by_key = {}
        for i, name in enumerate(self.class_names):
            self._by_key.setdefault(_key(name), i)
        self.roots = [Path(r).resolve() for r in roots]

    def index_of(self, path: str | os.PathLike) -> int | None:
        """The class index the nearest folder above ``path`` is named after (looking no higher
        than the dropped folder that holds it, or MAX_DEPTH folders), or None."""
        path = Path(path)
        root = self._root_of(path)
        for depth, folder in enumerate(path.parents):
            found = self._by_key.get(_key(folder.name))
            if found is not None:
                return found
            if (root is not None and folder.resolve() == root) or depth + 1 >= MAX_DEPTH:
                return None
        return None

    def label_of(self, path: str | os.PathLike) -> str | None:
        i = self.index_of(path)
        return None if i is None else self.class_names[i]

    def _root_of(self, path: Path) -> Path | None:
        try:
            resolved = path.resolve()
        except OSError:
            return None
        for root in self.roots:
            if resolved.is_relative_to(root):
                return root
        return None


@dataclass(frozen=True, slots=True)
class EvaluationReport:
    """How the model did on the images that have a ground truth."""

    metrics: Metrics
    with_truth: int  # classified images whose folder names a class
    without_truth: int  # classified images whose folders name none
    disagreements: tuple[str, ...]  # paths whose label differs from their folder's class

    @property
    def accuracy(self) -> float:
        return self.metrics.accuracy

    def line(self) -> str:
        extra = f"; {self.without_truth} without a class folder" if self.without_truth else ""
        return (
            f"accuracy {self.accuracy:.1%} on {self.with_truth} images in class-named folders "
            f"({len(self.disagreements)} disagree with their folder{extra})"
        )

    def to_dict(self) -> dict:
        m = self.metrics
        return {
            "accuracy": m.accuracy,
            "images": self.with_truth,
            "without_truth": self.without_truth,
            "per_class": [
                {
                    "name": c.name,
                    "precision": c.precision,
                    "recall": c.recall,
                    "f1": c.f1,
                    "support": c.support,
                }  # fmt: skip
                for c in m.per_class
            ],
            "confusion": [list(row) for row in m.confusion],
        }


class EvaluationTally:
    """An evaluation built up one result at a time: the app adds each batch as it arrives (no
    pass over every result when a run of 50,000 ends), and :func:`evaluate` is one loop of it,
    so the app and `pigeonhole predict --evaluate` count exactly alike."""

    def __init__(self, class_names: Sequence[str]):
        self.class_names = list(class_names)
        self._index = {name: i for i, name in enumerate(self.class_names)}
        n = len(self.class_names)
        self._confusion = [[0] * n for _ in range(n)]
        self._wrong: list[str] = []
        self.with_truth = 0
        self.without_truth = 0

    def add(self, path: str, label: str | None, true_label: str | None) -> None:
        """One result: the model's ``label`` (None: the image failed) and the class of its
        folder (None: no folder named like a class). Failed images and labels the model does
        not have are not counted."""
        predicted = self._index.get(label) if label is not None else None
        if predicted is None:
            return
        if true_label is None:
            self.without_truth += 1
            return
        t = self._index[true_label]
        self._confusion[t][predicted] += 1
        self.with_truth += 1
        if t != predicted:
            self._wrong.append(path)

    def report(self) -> EvaluationReport | None:
        """The figures so far; None while no result has a ground truth."""
        if not self.with_truth:
            return None
        metrics = metrics_from_confusion(self._confusion, self.class_names)
        return EvaluationReport(metrics, self.with_truth, self.without_truth, tuple(self._wrong))


def evaluate(
    results: Iterable[tuple[str, str | None]], truth: GroundTruth
) -> EvaluationReport | None:
    """Compare each ``(path, label)`` (label None: the image failed) with its folder's class;
    None when no image has a ground truth (the folders are not named like the classes)."""
    tally = EvaluationTally(truth.class_names)
    known = set(truth.class_names)
    for path, label in results:
        if label is not None and label in known:
            tally.add(path, label, truth.label_of(path))
    return tally.report()


@dataclass(frozen=True, slots=True)
class LabelledBatch:
    """A batch of a run with the class each image's folder is named after (None: no folder
    named like a class, or no ground truth asked for): what the CLI and the window consume."""

    batch: BatchResult
    truths: tuple[str | None, ...]

    @property
    def predictions(self) -> tuple[Prediction, ...]:
        return self.batch.predictions


def labelled_batches(
    batches: Generator[BatchResult, None, RunSummary], truth: GroundTruth | None
) -> Generator[LabelledBatch, None, RunSummary]:
    """The end of every run: each batch with its images' ground truth attached (worked out
    where the batches are made: the worker thread in the app), returning the RunSummary."""
    try:
        while True:
            try:
                batch = next(batches)
            except StopIteration as end:
                return end.value
            labels = (
                tuple(truth.label_of(p.path) for p in batch.predictions)
                if truth is not None
                else (None,) * len(batch.predictions)
            )
            yield LabelledBatch(batch, labels)
    finally:
        batches.close()  # a consumer that stops early stops the run's threads too
