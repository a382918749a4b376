"""Corrections that feed training: "Add corrections to a training set…" copies (never moves)
each image the person relabelled into ``<folder>/<its corrected label>/`` of a folder-per-class
data set the Train tab can use as it is, never overwriting a file there; then it offers to
train a new model on that folder in one step (the Train tab opens and starts).

The destination is checked before anything is copied: writable, and not the folder the
corrected images already lie in (a copy there would leave each image in two classes). The
copying runs on a worker thread (core.results.sorting)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from ...core.errors import OutputPathError
from ...core.fileio import check_output_folder
from ..widgets.actions import make_action
from ..widgets.workers import WorkerSlot
from .results_model import ResultsModel

log = logging.getLogger(__name__)
OPTION = "Training set"


def check_training_set_folder(folder: str | Path, images: list[str]) -> Path:
    """``folder`` as the destination of corrected images, or OutputPathError: it must be
    writable, and hold none of the images themselves."""
    dest = check_output_folder(folder, OPTION)
    root = dest.expanduser().resolve()
    inside = [p for p in images if Path(p).resolve().is_relative_to(root)]
    if inside:
        raise OutputPathError(
            f"{OPTION}: {dest} already holds the corrected images (such as "
            f"{Path(inside[0]).name}): a copy there would leave each one in two classes. Choose "
            "another folder, or move them into their class folders with Sort into folders."
        )
    return dest


def copy_corrections_task(items, dest: str, *, should_stop=None, progress=None):
    """Worker body: copy each (path, label) into ``dest/<label>/`` (core.results.sorting; never
    overwriting)."""
    from ...core.results.sorting import SortItem, sort_into_folders

    report = sort_into_folders(
        [SortItem(path, label, None) for path, label in items],
        dest,
        mode="copy",
        should_stop=should_stop,
        progress=progress,
        option=OPTION,
    )
    if report.manifest is not None:  # nothing offers to undo this: leave no record in the set
        report.manifest.unlink(missing_ok=True)
        report.manifest = None
    return report


class TrainingSetController(QObject):
    """The "Add corrections to a training set…" action, its worker and what follows it."""

    retrain_requested = Signal(str)  # the folder to train a new model on

    def __init__(self, host: QWidget, results: ResultsModel, notify: Callable[..., None]):
        super().__init__(host)
        self.host, self.results, self.notify = host, results, notify
        self.copying = WorkerSlot(self, on_finished=self._on_copied, on_failed=self._on_copy_failed)
        self.dest: Path | None = None
        self.act_add = make_action(
            host, "Add corrections to a &training set…", self.add_corrections, None, False
        )
        self.act_add.setToolTip(
            "Copy the images you relabelled into class folders of a data set to train on"
        )
        results.corrections_changed.connect(self.sync)
        results.modelReset.connect(self.sync)

    def sync(self) -> None:
        self.act_add.setEnabled(self.results.correction_count() > 0 and not self.copying.busy)

    # -- questions (tests replace these) -----------------------------------------------------
    def choose_folder(self, start: str) -> str | None:
        path = QFileDialog.getExistingDirectory(
            self.host, "Add corrections to a training set (a folder of class folders)", start
        )
        return path or None

    def ask_retrain(self, text: str) -> bool:
        answer = QMessageBox.question(self.host, "Train on the corrections", text)
        return answer == QMessageBox.StandardButton.Yes

    # -- copying -----------------------------------------------------------------------------
    def default_folder(self) -> str:
        """Where corrections went last time, else the Train tab's data folder."""
        settings = QSettings()
        return settings.value("classify/training_set", "", type=str) or settings.value(
            "train/folder", "", type=str
        )

    def add_corrections(self, folder: str | None = None) -> bool:
        """Copy the corrected images into ``folder`` (asked for without it), one class folder
        per corrected label. False when nothing was started."""
        if self.copying.busy:
            return False
        items = [
            (r.path, r.corrected) for r in self.results.rows if r.ok and r.corrected is not None
        ]
        if not items:
            self.notify("No corrected images yet: relabel some (keys 1-9 or L) first.")
            return False
        folder = folder or self.choose_folder(self.default_folder())
        if not folder:
            return False
        try:
            self.dest = check_training_set_folder(folder, [p for p, _ in items])
        except OutputPathError as e:
            self.notify(str(e), error=True)
            return False
        self.copying.start(copy_corrections_task, items, str(self.dest))
        self.notify(f"Copying {len(items):,} corrected images into {self.dest}…")
        self.sync()
        return True

    def _on_copied(self, report) -> None:
        self.sync()
        if report is None:
            self.notify("Copying the corrections was cancelled.")
            return
        dest = self.dest
        QSettings().setValue("classify/training_set", str(dest))
        classes = sorted({Path(d).parent.name for _, d in report.placed})
        text = (
            f"{len(report.placed):,} corrected images copied into {dest} "
            f"({', '.join(classes[:6])}{', …' if len(classes) > 6 else ''})"
        )
        if report.errors:
            self.notify(f"{text}; {len(report.errors)} failed: {report.errors[0]}", error=True)
        else:
            self.notify(text + ".")
        if report.placed and self.ask_retrain(
            f"{text}.\n\nOpen {dest} in the Train tab and train a new model on it now?"
        ):
            self.retrain_requested.emit(str(dest))

    def _on_copy_failed(self, message: str) -> None:
        self.sync()
        self.notify(message, error=True)

    def shutdown(self) -> None:
        self.copying.shutdown()
