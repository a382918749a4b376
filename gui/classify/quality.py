"""What is wrong with the data, found from the Classify tab's results: "Near duplicates"
(groups of the same picture, one key to keep one and mark the rest), "Review likely
mislabelled" (images of class-named folders whose folder the model doubts, out of sample,
walked in the preview with the triage keys) and the diversity of "Review uncertain" (near
copies of the image just shown are skipped).

The work is core's (core.insight.duplicates, .vectors, .audit, the same functions as
`pigeonhole duplicates` and `pigeonhole audit`) and runs on workers: perceptual hashes, a batch
at a time into :attr:`QualityController.hashes` (kept for the session, shared by all three),
the close pairs for every position of the window's sliders searched once (then a moved slider
only filters them: milliseconds), and the audit's k-fold heads (on the embeddings the
run kept, when it kept them). Nothing here blocks the window, whatever the number of images.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, QTimer
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QWidget

from ...core.insight.duplicate_options import DEFAULT_COSINE, DEFAULT_THRESHOLD, MAX_THRESHOLD
from ...core.insight.duplicates import (
    DuplicatePairs,
    ImageHash,
    duplicate_pairs,
    group_duplicates,
    hash_in_batches,
    is_near_copy,
)
from ...core.insight.vectors import cosine_key, stack_vectors
from ..widgets.actions import make_action
from ..widgets.workers import WorkerSlot
from .duplicates_view import COSINE_LEVELS, MARK, DuplicatesDialog
from .layout import ClassifyLayout
from .results_filter import ResultsView
from .results_model import ResultsModel
from .suspects import SuspectWalk, audit_inputs, run_audit
from .triage import TriageController

REGROUP_DELAY_MS = 30  # a slider being dragged groups again once it rests this long


@dataclass(frozen=True)
class Grouping:
    """What a grouping job found: the pairs for every slider position (searched once for these
    ``paths``), the embeddings, and the groups at the thresholds asked."""

    paths: tuple[str, ...]
    pairs: DuplicatePairs
    embeddings: np.ndarray | None
    groups: list
    note: str


def group_job(hashes, vectors, threshold, max_cosine, found=None, should_stop=None, progress=None):
    """On a worker: the groups among ``hashes`` (``vectors``: an embedding or None per hash,
    or None for none at all). The close pairs for every position of both sliders are searched
    once (``found``: a Grouping of the same images, whose pairs are reused)."""
    paths = tuple(h.path for h in hashes)
    if found is not None and found.paths == paths:
        pairs, embeddings = found.pairs, found.embeddings
    else:
        embeddings = stack_vectors(vectors) if vectors is not None else None
        pairs = duplicate_pairs(
            hashes, embeddings, range(MAX_THRESHOLD + 1), COSINE_LEVELS, should_stop
        )
        if pairs is None:
            return None
    groups = group_duplicates(hashes, pairs, threshold, max_cosine, embeddings)
    return Grouping(paths, pairs, embeddings, groups, capped_note(pairs, threshold, max_cosine))


def capped_note(pairs: DuplicatePairs, threshold: int, max_cosine: float) -> str:
    """What the groups leave out when a slider is past what the pairs cover ("" when not)."""
    notes = []
    if threshold > pairs.pictures.limit:
        notes.append(f"{int(pairs.pictures.limit)} bits")
    if pairs.vectors is not None and cosine_key(max_cosine) > pairs.vectors.limit:
        notes.append(f"a cosine distance of {1 + pairs.vectors.limit:.2f}")
    if not notes:
        return ""
    return (
        f" Grouped up to {' and '.join(notes)}: beyond, so many images count as the same picture "
        "that the pairs were not all kept."
    )


class QualityController(QObject):
    """The Classify tab's data-quality views and their workers."""

    def __init__(
        self,
        host: QWidget,
        ui: ClassifyLayout,
        results: ResultsModel,
        view_model: ResultsView,
        triage: TriageController,
        notify: Callable[..., None],
        run_going: Callable[[], bool],
    ) -> None:
        super().__init__(host)
        self.host, self.ui, self.results, self.view_model = host, ui, results, view_model
        self.triage, self.notify, self.run_going = triage, notify, run_going
        self.hashes: dict[str, ImageHash] = {}
        self.threshold, self.max_cosine = DEFAULT_THRESHOLD, DEFAULT_COSINE
        self.dialog: DuplicatesDialog | None = None
        self.grouping: Grouping | None = None  # the last grouping, its pairs reused
        self.walk: SuspectWalk | None = None
        self.review_skipped: set[str] = set()
        self._hashing = WorkerSlot(
            self,
            on_item=self._on_hashed,
            on_progress=self._on_hash_progress,
            on_finished=self._on_hashing_done,
            on_failed=self._on_failed,
        )
        self._grouping = WorkerSlot(self, on_finished=self._on_groups, on_failed=self._on_failed)
        self._auditing = WorkerSlot(
            self, on_item=self._on_audit_item, on_finished=self._on_audit, on_failed=self._failed
        )
        self._regroup_timer = QTimer(self, singleShot=True, interval=REGROUP_DELAY_MS)
        self._regroup_timer.timeout.connect(self.regroup)
        self.act_duplicates = make_action(
            host, "Near &duplicates…", self.open_duplicates, QKeySequence("Ctrl+Shift+D"), False
        )
        self.act_mislabelled = make_action(
            host,
            "Review likely &mislabelled",
            self.review_mislabelled,
            QKeySequence("Ctrl+Shift+M"),
            False,
        )
        self.actions = (self.act_duplicates, self.act_mislabelled)
        triage.next_in_review = self.next_in_review
        triage.review_started.connect(self._on_review_started)
        self._labelled = False
        results.rowsInserted.connect(self._on_rows)
        results.modelReset.connect(self._on_reset)
        results.dataChanged.connect(self._on_labels_changed)

    def sync(self) -> None:
        self.act_duplicates.setEnabled(self.results.rowCount() > 0)
        self.act_mislabelled.setEnabled(self._labelled and not self.run_going())

    def _on_rows(self, _parent, first: int, last: int) -> None:
        """Whether some result has a folder class (counted as rows arrive, not per click)."""
        rows = self.results.rows
        self._labelled = self._labelled or any(
            rows[i].truth is not None for i in range(first, last + 1)
        )

    # -- hashing -----------------------------------------------------------------------------
    def hash_paths(self, paths: list[str]) -> bool:
        """Hash the ones of ``paths`` not hashed yet, on a worker (a job still going is
        superseded). Returns False when every one is hashed already."""
        todo = [p for p in dict.fromkeys(paths) if p not in self.hashes]
        if not todo:
            return False
        self._hashing.start(hash_in_batches, todo)
        return True

    def _ok_paths(self, rows) -> list[str]:
        return [r.path for r in rows if r.ok]

    def _on_hashed(self, batch) -> None:
        for h in batch:
            if isinstance(h, ImageHash):
                self.hashes[h.path] = h

    def _on_hash_progress(self, done: int, total: int) -> None:
        if self.dialog is not None:
            self.dialog.show_status(f"Reading the images: {done:,} of {total:,}…")

    def _on_hashing_done(self, _result) -> None:
        if self.dialog is not None:
            self.regroup()

    def _on_failed(self, message: str) -> None:
        if self.dialog is not None:
            self.dialog.show_status(message)
        else:
            self.notify(message, error=True)

    def _failed(self, message: str) -> None:
        self.notify(message, error=True)

    # -- near duplicates ---------------------------------------------------------------------
    def open_duplicates(self) -> DuplicatesDialog | None:
        """Show the groups of the same picture among the results (hashing what is not yet)."""
        if self.results.rowCount() == 0:
            return None
        if self.dialog is None:
            d = DuplicatesDialog(self.host.cache, self.host.loader, self._label_of, self.host)
            d.mark = self.mark_copies
            d.thresholds_changed.connect(self._on_thresholds)
            d.addActions(list(self.triage.edit_actions))
            d.finished.connect(self._on_dialog_closed)
            self.dialog = d
        self.dialog.set_embeddings(
            any(getattr(r.pred, "embedding", None) is not None for r in self.results.rows)
        )
        self.dialog.show()
        self.dialog.raise_()
        if not self.hash_paths(self._ok_paths(self.results.rows)):
            self.regroup()
        return self.dialog

    def _on_dialog_closed(self, _result: int) -> None:
        self._grouping.discard()
        self.dialog = None

    def _on_thresholds(self, bits: int, cosine: float) -> None:
        self.threshold, self.max_cosine = bits, cosine
        self._regroup_timer.start()

    def regroup(self) -> None:
        """Group the hashed results again, on a worker, at the dialog's thresholds."""
        if self.dialog is None or self._hashing.busy:
            return  # the end of hashing groups them
        rows = [r for r in self.results.rows if r.ok and r.path in self.hashes]
        hashes = [self.hashes[r.path] for r in rows]
        vectors = [getattr(r.pred, "embedding", None) for r in rows]
        vectors = vectors if any(v is not None for v in vectors) else None
        found = self.grouping
        if found is None or found.paths != tuple(h.path for h in hashes):
            self.dialog.show_status(f"Comparing {len(hashes):,} images…")
        self._grouping.start(group_job, hashes, vectors, self.threshold, self.max_cosine, found)

    def _on_groups(self, grouping: Grouping | None) -> None:
        if grouping is None:
            return
        self.grouping = grouping
        if self.dialog is not None:
            self.dialog.show_groups(grouping.groups, len(grouping.paths), grouping.note)

    def _label_of(self, path: str) -> str | None:
        row = self._rows_of([path])
        return self.results.row_at(row[0]).label if row else None

    def _rows_of(self, paths: list[str]) -> list[int]:
        wanted = set(paths)
        return [i for i, r in enumerate(self.results.rows) if r.path in wanted]

    def mark_copies(self, keep: str, paths: list[str]) -> int:
        """Label ``paths`` (a group's copies, ``keep`` not among them) with the mark, as one
        undoable step; ``keep`` loses the mark if it had it."""
        rows = self._rows_of(paths)
        kept = [i for i in self._rows_of([keep]) if self.results.row_at(i).corrected == MARK]
        if kept:
            self.triage.label_rows(kept, None)
        return self.triage.label_rows(rows, MARK)

    def _on_labels_changed(self, *_args) -> None:
        if self.dialog is not None:
            self.dialog.refresh_labels()

    # -- diversity in "Review uncertain" -----------------------------------------------------
    def _on_review_started(self) -> None:
        """Hash the images in the review's order, ahead of the person (milliseconds each)."""
        self.review_skipped = set()
        n = self.view_model.rowCount()
        self.hash_paths(self._ok_paths(self.view_model.row(i) for i in range(n)))

    def next_in_review(self, start: int, delta: int) -> int:
        """The view row the review goes to from ``start`` in direction ``delta``: past the
        images that are near copies of the one shown now (skipped for the rest of the review;
        they stay in the grid). Images not hashed yet count as different."""
        preview = self.triage.preview
        shown = preview.path if preview is not None else None
        current = self.hashes.get(shown) if shown is not None else None
        row, skipped, n = start, 0, self.view_model.rowCount()
        while 0 <= row < n:
            path = self.view_model.row(row).path
            h = self.hashes.get(path)
            near = current is not None and h is not None and path != shown
            if path in self.review_skipped or (near and is_near_copy(current, h, self.threshold)):
                self.review_skipped.add(path)
                skipped += path != shown
                row += delta
                continue
            break
        if skipped:
            what = "1 near copy" if skipped == 1 else f"{skipped} near copies"
            self.notify(f"Skipped {what} of the image before (they stay in the grid).")
        if not 0 <= row < n:
            return preview.position if preview is not None else start
        return row

    # -- likely mislabelled ------------------------------------------------------------------
    def review_mislabelled(self) -> bool:
        """Rank the results from class-named folders by how likely their folder is wrong (on a
        worker), then walk the likely mislabelled ones in the preview."""
        if self.run_going():
            self.notify("Wait for the run to finish: the audit needs all its results.")
            return False
        inputs = audit_inputs(self.results.rows)
        if inputs is None:
            self.notify(
                "Likely mislabelled images are found among results from class-named folders "
                "(one sub-folder per class): classify such a folder first.",
                warning=True,
            )
            return False
        self.notify(f"Looking for likely mislabelled images among {len(inputs.paths):,}…")
        self._auditing.start(run_audit, self.ui.model_panel.loaded, inputs,
                             self.ui.model_panel.run_options())  # fmt: skip
        return True

    def _on_audit_item(self, record) -> None:
        text = getattr(record, "text", None)
        if text:
            self.notify(f"Likely mislabelled: {text}…")

    def _on_audit(self, report) -> None:
        if report is None:
            return
        if self.walk is not None:
            self.walk.close()
        rows = {r.path: i for i, r in enumerate(self.results.rows)}
        suspects = [s for s in report.flagged if s.path in rows]
        if not suspects:
            self.notify(f"No likely mislabelled images among {len(report.paths):,}.")
            return
        self.notify(
            f"{len(suspects):,} of {len(report.paths):,} images are likely mislabelled, most "
            "suspect first: a label key relabels, K keeps the folder's label, Ctrl+Z undoes."
        )
        self.walk = SuspectWalk(self.host, self.results, self.triage, suspects, rows)
        self.walk.closed.connect(self._on_walk_closed)
        self.walk.open()

    def _on_walk_closed(self) -> None:
        self.walk = None

    # -- lifetime ----------------------------------------------------------------------------
    def _on_reset(self) -> None:
        """New results: what was found about the old ones no longer applies."""
        for slot in (self._hashing, self._grouping, self._auditing):
            slot.discard()
        self.hashes.clear()
        self.grouping = None
        self.review_skipped = set()
        self._labelled = False
        for window in (self.dialog, self.walk):
            if window is not None:
                window.close()

    def shutdown(self) -> None:
        for window in (self.dialog, self.walk):
            if window is not None:
                window.close()
        for slot in (self._hashing, self._grouping, self._auditing):
            slot.shutdown()
