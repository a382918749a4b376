"""Leaks: evaluated images that are copies (exact, or resized, recompressed, cropped a little)
of training images. A model has seen them, so the accuracy counted on them is inflated; the
evaluation without them is the honest figure. One function for `pigeonhole predict --evaluate
--leaks FOLDER` and the Classify tab's Evaluation pane."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..data.listing import iter_image_files
from ..results.evaluation import EvaluationTally
from ..tasks import StopFlag, stop_check
from .duplicates import ImageHash, Leak, find_leaks, hash_files

if TYPE_CHECKING:
    from ..results.evaluation import EvaluationReport

Evaluated = tuple[str, "str | None", "str | None"]  # (path, the model's label, folder class)


@dataclass(frozen=True, slots=True)
class LeakReport:
    """The leaks among ``checked`` evaluated images (those in class-named folders) against
    ``training`` readable training images, and the evaluation without the leaked ones (None
    when no image with a class folder is left)."""

    leaks: tuple[Leak, ...]
    checked: int
    training: int
    without: EvaluationReport | None

    @property
    def paths(self) -> set[str]:
        return {leak.path for leak in self.leaks}

    @property
    def exact(self) -> int:
        return sum(leak.kind == "exact" for leak in self.leaks)


def check_leaks(
    evaluated: Sequence[Evaluated],
    class_names: Sequence[str],
    train_folder: str | os.PathLike,
    should_stop: StopFlag = None,
    progress: Callable[[int, int], None] | None = None,
) -> LeakReport | None:
    """Hash the evaluated images that have a class folder and every image under
    ``train_folder``, find the evaluated ones that are copies of training images, and count
    the evaluation again without them. ``progress(done, total)`` counts images hashed; None
    when stopped."""
    stop = stop_check(should_stop)
    checked = [path for path, _label, truth in evaluated if truth is not None]
    training = list(iter_image_files([train_folder]))
    total = len(checked) + len(training)

    def hashed(paths: list, before: int) -> list[ImageHash]:
        report = (lambda n: progress(before + n, total)) if progress is not None else None
        return [h for h in hash_files(paths, stop, report) if isinstance(h, ImageHash)]

    evaluated_hashes = hashed(checked, 0)
    training_hashes = hashed(training, len(checked))
    if stop():
        return None
    leaks = find_leaks(evaluated_hashes, training_hashes)
    leaked = {leak.path for leak in leaks}
    tally = EvaluationTally(class_names)
    for path, label, truth in evaluated:
        if path not in leaked:
            tally.add(path, label, truth)
    return LeakReport(tuple(leaks), len(checked), len(training_hashes), tally.report())
