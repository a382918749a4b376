"""Triage in the Classify tab, at the speed of a person: label keys, the label picker, undo
and redo, the preview that steps through results, "Review uncertain", the tiles' context menu.

Keys on the grid (and in the preview): 1-9 label the selection with the model's first nine
classes; L or F2 opens the picker; Ctrl+Z / Ctrl+Shift+Z undo and redo corrections; Space or
Enter opens the preview, where the arrow keys step and a label key labels and moves on.
A correction is its own field of the row (never the prediction's): see ResultsModel.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QItemSelectionModel, QModelIndex, QObject, Qt, QUrl, Signal
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence
from PySide6.QtWidgets import QMenu, QWidget

from ..widgets.actions import make_action
from ..widgets.heatmap_view import HeatMapControl
from ..widgets.preview import PreviewDialog, make_preview
from .corrections import CorrectionHistory
from .layout import ClassifyLayout
from .results_filter import ResultsView
from .results_model import ResultsModel

QUICK_LABELS = 9  # the number keys 1-9


class TriageController(QObject):
    """Labels, their undo history, the preview and the tiles' context menu."""

    review_started = Signal()  # "Review uncertain" has sorted the grid and opened the preview

    def __init__(
        self,
        host: QWidget,
        ui: ClassifyLayout,
        results: ResultsModel,
        view_model: ResultsView,
        notify: Callable[..., None],
        ask_label: Callable[[str, list[str], int], str | None],
    ) -> None:
        super().__init__(host)
        self.host, self.ui, self.results, self.view_model = host, ui, results, view_model
        self.notify, self.ask_label = notify, ask_label
        self.history = CorrectionHistory(results, self)
        self.history.stepped.connect(self._on_stepped)
        self.preview: PreviewDialog | None = None
        self.reviewing = False  # the preview walks "Review uncertain"
        # While reviewing: (start view row, direction) -> the view row to show (the quality
        # controller's, which skips near copies of the image shown); None: plain stepping.
        self.next_in_review: Callable[[int, int], int] | None = None

        def action(text, slot, shortcut=None) -> QAction:
            return make_action(host, text, slot, shortcut, False)

        self.act_relabel = action(
            "&Label…", self.relabel_selected, [QKeySequence("L"), QKeySequence("F2")]
        )
        self.act_unlabel = action("&Remove correction", self.clear_correction)
        self.act_preview = action("&Preview", self.open_preview, QKeySequence("Space"))
        self.act_review = action(
            "Review &uncertain", self.review_uncertain, QKeySequence("Ctrl+Shift+U")
        )
        self.act_reveal = action("Show in &folder", self.reveal_selected)
        self.act_undo = self.history.stack.createUndoAction(host, "&Undo")
        self.act_redo = self.history.stack.createRedoAction(host, "&Redo")
        self.act_undo.setShortcuts([QKeySequence("Ctrl+Z")])
        self.act_redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        for a in (self.act_undo, self.act_redo):
            a.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            host.addAction(a)
        self.edit_actions = (self.act_undo, self.act_redo)
        self.triage_actions = (
            self.act_relabel,
            self.act_unlabel,
            self.act_preview,
            self.act_review,
            self.act_reveal,
        )
        ui.grid.label_key.connect(self.label_key)
        ui.grid.preview_requested.connect(self.open_preview)
        ui.grid.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        ui.grid.customContextMenuRequested.connect(self._context_menu)
        self.sync()

    def sync(self) -> None:
        selected = bool(self.ui.grid.selectionModel().hasSelection())
        for a in (self.act_relabel, self.act_unlabel, self.act_preview, self.act_reveal):
            a.setEnabled(selected)
        self.act_review.setEnabled(self.results.rowCount() > 0)

    # -- rows --------------------------------------------------------------------------------
    def selected_source_rows(self) -> list[int]:
        """The selected tiles, as rows of the results model, in order. Read from the
        selection's ranges (a lasso's thousands of rows are one range): one model index per
        row took 0.3 s for 13,000 rows."""
        ranges = [r for r in self.ui.grid.selectionModel().selection() if r.isValid()]
        if not ranges:
            return []
        view_rows = np.concatenate([np.arange(r.top(), r.bottom() + 1) for r in ranges])
        source = np.asarray(self.view_model.source_rows(), dtype=np.int64)
        return np.unique(source[view_rows]).tolist()  # (ranges may overlap)

    def quick_labels(self) -> list[str]:
        """The labels of the keys 1-9: the model's first nine classes."""
        return self.results.class_names[:QUICK_LABELS]

    def keys_html(self) -> str:
        keys = " · ".join(
            f"<b>{i + 1}</b> {html.escape(name)}" for i, name in enumerate(self.quick_labels())
        )
        return (
            f"{keys} · <b>L</b> other label… · <b>←/→</b> previous/next · <b>H</b> heat map · "
            "<b>Ctrl+Z</b> undo"
        )

    # -- labelling ---------------------------------------------------------------------------
    def label_rows(self, rows: list[int], label: str | None) -> int:
        """Label ``rows`` (None: back to the model's labels) as one undoable step."""
        n = self.history.relabel(rows, label)
        if n and label is not None:
            what = f"{n:,} images" if n > 1 else "1 image"
            self.notify(f"{what} labelled '{label}' (Ctrl+Z undoes).")
        return n

    def _on_stepped(self, what: str, step: str) -> None:
        """Undo or redo: the banner says what it did (not the label it took back)."""
        keys = "Ctrl+Shift+Z redoes" if what == "Undone" else "Ctrl+Z undoes"
        self.notify(f"{what}: {step} ({keys}).")

    def label_selected(self, label: str) -> int:
        return self.label_rows(self.selected_source_rows(), label)

    def label_key(self, key: int) -> int:
        """Number key ``key`` (1-9) on the grid: label the selection."""
        labels = self.quick_labels()
        if not 1 <= key <= len(labels):
            return 0
        return self.label_selected(labels[key - 1])

    def relabel_selected(self, label: str | None = None) -> int:
        """Label the selected images (asking which, through the picker, without ``label``)."""
        rows = [i for i in self.selected_source_rows() if self.results.row_at(i).ok]
        if not rows:
            return 0
        if label is None:
            label = self.ask_label(
                self.results.row_at(rows[0]).label or "", self.results.known_labels(), len(rows)
            )
            if label is None:
                return 0
        return self.label_rows(rows, label)

    def clear_correction(self) -> int:
        """Give the selected images their predicted labels back."""
        return self.label_rows(self.selected_source_rows(), None)

    # -- preview -----------------------------------------------------------------------------
    def open_preview(self, index: QModelIndex | None = None) -> PreviewDialog | None:
        """Show the tile at ``index`` (the current tile, without it) in the preview."""
        grid = self.ui.grid
        index = index if index is not None and index.isValid() else grid.currentIndex()
        if not index.isValid():
            return None
        self.reviewing = False
        if self.preview is None:
            self.preview = make_preview(
                self.host,
                self._preview_step,
                self._preview_label_key,
                self._preview_pick_label,
                self._preview_closed,
                self.edit_actions,
            )
            self.preview.attach_heatmap(
                HeatMapControl(lambda: self.ui.model_panel.loaded, self.preview.show_overlay,
                               self.preview, self.preview.photo)
            )  # fmt: skip
        self._show_in_preview(index.row())
        self.preview.show()
        self.preview.raise_()
        return self.preview

    def _preview_closed(self, _result: int) -> None:
        self.preview = None
        self.reviewing = False

    def _target(self, start: int, delta: int) -> int:
        """The view row a step lands on from ``start`` (a review skips near copies)."""
        if self.reviewing and self.next_in_review is not None:
            return self.next_in_review(start, delta)
        return start

    def _show_in_preview(self, view_row: int) -> None:
        """Show view row ``view_row`` in the preview and make it the grid's current tile."""
        n = self.view_model.rowCount()
        if self.preview is None or n == 0:
            return
        view_row = max(0, min(n - 1, view_row))
        grid = self.ui.grid
        index = grid.model().index(view_row, 0)
        grid.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect
        )
        grid.scrollTo(index)
        row = self.view_model.row(view_row)
        self.preview.show_result(row, view_row, n, self.keys_html())

    def _preview_step(self, delta: int) -> None:
        if self.preview is not None:
            self._show_in_preview(self._target(self.preview.position + delta, delta))

    def _preview_label_key(self, key: int) -> None:
        labels = self.quick_labels()
        if 1 <= key <= len(labels):
            self._label_previewed(labels[key - 1])

    def _preview_pick_label(self) -> None:
        row = self._previewed_source_row()
        if row is None:
            return
        label = self.ask_label(self.results.row_at(row).label or "", self.results.known_labels(), 1)
        if label is not None:
            self._label_previewed(label)

    def _previewed_source_row(self) -> int | None:
        if self.preview is None or not 0 <= self.preview.position < self.view_model.rowCount():
            return None
        return self.view_model.source_row(self.preview.position)

    def _label_previewed(self, label: str) -> None:
        """Label the image in the preview, then show the next one (one key per image)."""
        row = self._previewed_source_row()
        if row is None:
            return
        before = self.view_model.rowCount()
        self.label_rows([row], label)
        # A class filter may have taken the image out of view: the next one moved up.
        step = 0 if self.view_model.rowCount() < before else 1
        self._show_in_preview(self._target(self.preview.position + step, 1))

    def review_uncertain(self) -> PreviewDialog | None:
        """Order the grid by confidence, lowest first, and open the preview on the least sure
        result: the arrow keys then step through the next least sure."""
        if self.results.rowCount() == 0:
            return None
        self.ui.filters.set_sort("confidence", descending=False)
        if self.view_model.rowCount() == 0:
            return None
        self.notify("Lowest confidence first: label with 1-9 or L, step with the arrow keys.")
        preview = self.open_preview(self.ui.grid.model().index(0, 0))
        self.reviewing = True
        self.review_started.emit()
        return preview

    # -- context menu ------------------------------------------------------------------------
    def context_menu(self) -> QMenu:
        """The tiles' context menu: the label items (with their keys), then the rest."""
        menu = QMenu(self.host)
        menu.setToolTipsVisible(True)  # (a disabled item says why)
        for i, name in enumerate(self.quick_labels()):
            a = menu.addAction(f"Label '{name}'")
            a.setShortcut(QKeySequence(str(i + 1)))
            a.triggered.connect(lambda _c=False, n=name: self.label_selected(n))
        menu.addSeparator()
        menu.addActions(list(self.triage_actions))
        return menu

    def _context_menu(self, pos) -> None:
        if not self.selected_source_rows():
            return
        self.context_menu().popup(self.ui.grid.viewport().mapToGlobal(pos))

    def reveal_selected(self) -> None:
        """Open the folder of the first selected image in the file manager."""
        rows = self.selected_source_rows()
        if rows:
            folder = Path(self.results.row_at(rows[0]).path).parent
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def shutdown(self) -> None:
        if self.preview is not None:
            self.preview.close()
