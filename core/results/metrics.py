"""Classification metrics shared by training (the validation split) and evaluation (labelled
folders): accuracy, per-class precision / recall / F1, the confusion matrix, a text table."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ClassMetrics:
    name: str
    precision: float
    recall: float
    f1: float
    support: int  # images of this class (by ground truth)


@dataclass(frozen=True, slots=True)
class Metrics:
    accuracy: float
    per_class: tuple[ClassMetrics, ...]
    confusion: tuple[tuple[int, ...], ...]  # [true][predicted]
    images: int

    def table(self) -> str:
        """Per-class precision/recall/F1 as a text table."""
        return metrics_table(self.per_class)


def classification_metrics(
    true: Sequence[int], predicted: Sequence[int], class_names: Sequence[str]
) -> Metrics:
    """Metrics of ``predicted`` against ``true`` (class indices into ``class_names``)."""
    n = len(class_names)
    cm = [[0] * n for _ in range(n)]
    for t, p in zip(true, predicted, strict=True):
        cm[t][p] += 1
    return metrics_from_confusion(cm, class_names)


def metrics_from_confusion(cm: Sequence[Sequence[int]], class_names: Sequence[str]) -> Metrics:
    """Metrics of a confusion matrix (``cm[true][predicted]`` image counts): what a tally built
    one result at a time (core.results.evaluation.EvaluationTally) turns into figures."""
    n = len(class_names)
    per_class = []
    said_per_class = [sum(column) for column in zip(*cm, strict=True)] if n else []
    for c, name in enumerate(class_names):
        tp = cm[c][c]
        said = said_per_class[c]
        support = sum(cm[c])
        precision = tp / said if said else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class.append(
            ClassMetrics(name, round(precision, 4), round(recall, 4), round(f1, 4), support)
        )
    total = sum(sum(row) for row in cm)
    right = sum(cm[c][c] for c in range(n))
    return Metrics(
        accuracy=right / total if total else 0.0,
        per_class=tuple(per_class),
        confusion=tuple(tuple(row) for row in cm),
        images=total,
    )


def metrics_table(per_class: Sequence[ClassMetrics]) -> str:
    """``class  precision  recall  f1  support`` rows, aligned."""
    width = max([5, *(len(c.name) for c in per_class)])
    lines = [f"{'class':<{width}}  precision  recall     f1  support"]
    for c in per_class:
        lines.append(
            f"{c.name:<{width}}  {c.precision:9.3f}  {c.recall:6.3f}  {c.f1:5.3f}  {c.support:7d}"
        )
    return "\n".join(lines)
