"""The walk through the likely mislabelled images: the audit's suspects, most suspect first,
in the preview, with the triage keys (a label key or L relabels, K keeps the folder's label,
each then moves on; Ctrl+Z undoes; the arrows step). :func:`run_audit` is the worker's job."""

from __future__ import annotations

import html
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QWidget

from ...core.insight.vectors import stack_vectors
from ..widgets.actions import make_action
from ..widgets.preview import make_preview
from ..widgets.result_row import describe_html
from .results_model import ResultsModel
from .triage import TriageController


@dataclass(frozen=True, slots=True)
class AuditInputs:
    """The results an audit judges: their classes (folder names), paths, given label index,
    and the embeddings the run kept (None unless every image has one)."""

    classes: tuple[str, ...]
    paths: tuple[str, ...]
    labels: tuple[int, ...]
    vectors: tuple | None


def audit_inputs(rows) -> AuditInputs | None:
    """What the audit needs from the results from class-named folders (None: there are none)."""
    judged = [r for r in rows if r.ok and r.truth is not None]
    if not judged:
        return None
    classes = tuple(sorted({r.truth for r in judged}))
    index = {c: i for i, c in enumerate(classes)}
    vectors = tuple(getattr(r.pred, "embedding", None) for r in judged)
    return AuditInputs(
        classes,
        tuple(r.path for r in judged),
        tuple(index[r.truth] for r in judged),
        vectors if all(v is not None for v in vectors) else None,
    )


def run_audit(loaded, inputs: AuditInputs, options, should_stop=None, progress=None):
    """On a worker: core.insight.audit's ranking of ``inputs`` (generator: stages, then the
    AuditReport)."""
    from ...core.insight.audit import audit_results  # torch: on the worker, when asked

    embeddings = stack_vectors(list(inputs.vectors)) if inputs.vectors is not None else None
    return (
        yield from audit_results(
            loaded, inputs.classes, inputs.paths, inputs.labels, embeddings, options,
            should_stop=should_stop, progress=progress,
        )
    )  # fmt: skip


def suspect_html(s) -> str:
    esc = html.escape
    return (
        f'<p style="color:#b45309"><b>Likely mislabelled.</b> Its folder says '
        f"<b>{esc(s.given_label)}</b>; a model that never saw it says "
        f"<b>{esc(s.suggested_label)}</b> (only {1 - s.score:.0%} for "
        f"{esc(s.given_label)}).</p>"
    )


class SuspectWalk(QObject):
    """The preview stepping through ``suspects`` (core Suspects; ``rows``: path -> result
    row). Labels go through the triage's undoable history."""

    closed = Signal()

    def __init__(
        self,
        host: QWidget,
        results: ResultsModel,
        triage: TriageController,
        suspects: list,
        rows: dict[str, int],
    ) -> None:
        super().__init__(host)
        self.host, self.results, self.triage = host, results, triage
        self.suspects, self.rows = suspects, rows
        self.position = 0
        self.preview = None

    def open(self):
        self.preview = make_preview(
            self.host, self.step, self.label_key, self.pick_label, self._closed,
            self.triage.edit_actions,
        )  # fmt: skip
        self.preview.setWindowTitle("Likely mislabelled")
        make_action(self.preview, "Keep the folder's label", self.keep, QKeySequence("K"))
        self.results.dataChanged.connect(self._refresh)
        self.show(0)
        self.preview.show()
        self.preview.raise_()
        return self.preview

    @property
    def suspect(self):
        return self.suspects[self.position]

    def _row(self) -> int:
        return self.rows[self.suspect.path]

    def show(self, position: int) -> None:
        if self.preview is None:
            return
        self.position = max(0, min(len(self.suspects) - 1, position))
        row = self.results.row_at(self._row())
        details = suspect_html(self.suspect) + describe_html(row, header=False)
        self.preview.show_item(
            row.path, details, self.position, len(self.suspects), self.keys_html(), row.pred.error
        )

    def keys_html(self) -> str:
        keys = " · ".join(
            f"<b>{i + 1}</b> {html.escape(n)}" for i, n in enumerate(self.triage.quick_labels())
        )
        given = html.escape(self.suspect.given_label)
        return (
            f"{keys} · <b>K</b> keep '{given}' · <b>L</b> other label… · "
            "<b>←/→</b> previous/next · <b>Ctrl+Z</b> undo"
        )

    def _refresh(self, *_args) -> None:
        self.show(self.position)  # an undo changed what the details say

    def step(self, delta: int) -> None:
        self.show(self.position + delta)

    def label_key(self, key: int) -> None:
        labels = self.triage.quick_labels()
        if 1 <= key <= len(labels):
            self.relabel(labels[key - 1])

    def pick_label(self) -> None:
        row = self.results.row_at(self._row())
        label = self.triage.ask_label(row.label or "", self.results.known_labels(), 1)
        if label is not None:
            self.relabel(label)

    def keep(self) -> None:
        """The folder was right: the image gets its folder's class, and the walk moves on."""
        self.relabel(self.suspect.given_label)

    def relabel(self, label: str) -> None:
        self.triage.label_rows([self._row()], label)
        self.show(self.position + 1)

    def close(self) -> None:
        if self.preview is not None:
            self.preview.close()

    def _closed(self, _result: int) -> None:
        self.results.dataChanged.disconnect(self._refresh)
        self.preview = None
        self.closed.emit()
