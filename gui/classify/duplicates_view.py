"""The "Near duplicates" window: the groups of the same picture among the results, each shown
with its thumbnails, thresholds the person can move, and one key to keep one image of a group
and mark the rest.

It only shows: the hashing and grouping run on workers (gui.classify.quality owns them) and
arrive through :meth:`DuplicatesDialog.show_groups`; marking goes back through ``mark``, an
undoable relabelling. Sized for a 1024x640 screen."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QKeySequence, QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSlider,
    QSplitter,
    QVBoxLayout,
)

from ...core.insight.duplicate_options import DEFAULT_COSINE, DEFAULT_THRESHOLD, MAX_THRESHOLD
from ..widgets.actions import make_action
from ..widgets.screen_fit import resize_to_screen
from ..widgets.tables import thumbnail_list
from ..widgets.thumbnails import ThumbnailCache, ThumbnailLoader

TILE = 150
COSINE_STEPS = 100  # the embedding slider: hundredths of a cosine distance, 0 to 0.30
COSINE_MAX_STEP = 30
COSINE_LEVELS = [step / COSINE_STEPS for step in range(COSINE_MAX_STEP + 1)]  # its positions
MARK = "duplicate"  # the label the copies a person does not keep are given
KIND_TEXT = {"keep": "largest", "exact": "exact copy", "near": "near copy", "similar": "similar"}


def _slider(maximum: int, value: int) -> QSlider:
    s = QSlider(Qt.Orientation.Horizontal)
    s.setRange(0, maximum)
    s.setValue(value)
    s.setPageStep(1)
    return s


class DuplicatesDialog(QDialog):
    """Groups on the left, the chosen group's images on the right. ``thresholds_changed(bits,
    cosine)`` asks the owner to group again; ``mark(keep_path, paths)`` to mark ``paths``."""

    thresholds_changed = Signal(int, float)

    def __init__(
        self,
        cache: ThumbnailCache,
        loader: ThumbnailLoader,
        label_of: Callable[[str], str | None],
        parent=None,
    ):
        super().__init__(parent)
        self.setWindowTitle("Near duplicates")
        self.cache, self.loader, self.label_of = cache, loader, label_of
        self.groups: list = []
        self.mark: Callable[[str, list[str]], int] | None = None
        self.status = QLabel("Reading the images…", wordWrap=True)
        self.bits = _slider(MAX_THRESHOLD, DEFAULT_THRESHOLD)
        self.cosine = _slider(COSINE_MAX_STEP, round(DEFAULT_COSINE * COSINE_STEPS))
        self.bits_text, self.cosine_text = QLabel(), QLabel()
        self.bits_row = self._threshold_row("Picture", self.bits, self.bits_text)
        self.cosine_row = self._threshold_row("Embedding", self.cosine, self.cosine_text)
        self.group_list = QListWidget()
        self.group_list.setIconSize(QSize(48, 48))
        self.group_list.currentRowChanged.connect(self._show_group)
        self.members = thumbnail_list(TILE, QSize(TILE + 24, TILE + 56))
        split = QSplitter()
        split.addWidget(self.group_list)
        split.addWidget(self.members)
        split.setSizes([240, 700])
        self.keep_button = QPushButton("Keep one, mark the rest (K)")
        self.keep_button.clicked.connect(self.keep_one)
        make_action(self, "Keep one, mark the rest", self.keep_one, QKeySequence("K"))
        close = QPushButton("Close")
        close.clicked.connect(self.reject)
        for b in (self.keep_button, close):
            b.setAutoDefault(False)
        hint = QLabel(
            f"<b>K</b> keeps the selected image (else the largest) and labels the others "
            f"'{MARK}' · <b>Ctrl+Z</b> undoes · the Label filter shows them",
            objectName="hint",
            wordWrap=True,
        )
        buttons = QHBoxLayout()
        buttons.addWidget(hint, 1)
        buttons.addWidget(self.keep_button)
        buttons.addWidget(close)
        lay = QVBoxLayout(self)
        lay.addWidget(self.status)
        lay.addLayout(self.bits_row)
        lay.addLayout(self.cosine_row)
        lay.addWidget(split, 1)
        lay.addLayout(buttons)
        self.set_embeddings(False)
        self._on_slider()
        loader.ready.connect(self._on_thumbnail)
        resize_to_screen(self, 960, 600)

    # -- thresholds --------------------------------------------------------------------------
    def _threshold_row(self, text: str, slider: QSlider, value: QLabel) -> QHBoxLayout:
        row = QHBoxLayout()
        row.addWidget(QLabel(text))
        row.addWidget(slider, 1)
        row.addWidget(value)
        slider.valueChanged.connect(self._on_slider)
        return row

    @property
    def threshold(self) -> int:
        return self.bits.value()

    @property
    def max_cosine(self) -> float:
        return self.cosine.value() / COSINE_STEPS

    def set_embeddings(self, present: bool) -> None:
        """Offer the embedding threshold only when the results carry embeddings."""
        for i in range(self.cosine_row.count()):
            self.cosine_row.itemAt(i).widget().setVisible(present)

    def _on_slider(self, *_args) -> None:
        self.bits_text.setText(f"≤ {self.threshold} bits differ")
        self.cosine_text.setText(f"cosine distance ≤ {self.max_cosine:.2f}")
        self.thresholds_changed.emit(self.threshold, self.max_cosine)

    # -- groups ------------------------------------------------------------------------------
    def show_status(self, text: str) -> None:
        self.status.setText(text)

    def show_groups(self, groups: list, images: int, note: str = "") -> None:
        """Show ``groups`` (core DuplicateGroups) found among ``images`` images, keeping the
        group chosen before when it is still there; ``note``: what the groups leave out."""
        current = self._current_keep()
        self.groups = groups
        copies = sum(len(g.copies) for g in groups)
        self.status.setText(
            (
                f"{len(groups):,} groups among {images:,} images: {copies:,} copies."
                if groups
                else f"No duplicates among {images:,} images at these thresholds."
            )
            + note
        )
        self.group_list.blockSignals(True)
        self.group_list.clear()
        for g in groups:
            kinds = {KIND_TEXT[m.kind] for m in g.copies}
            item = QListWidgetItem(f"{len(g.members)} images · {', '.join(sorted(kinds))}")
            item.setToolTip(g.keep)
            item.setIcon(self._icon(g.keep))
            self.group_list.addItem(item)
        self.group_list.blockSignals(False)
        keeps = [g.keep for g in groups]
        self.group_list.setCurrentRow(keeps.index(current) if current in keeps else 0)
        self._show_group(self.group_list.currentRow())

    def _current_keep(self) -> str | None:
        row = self.group_list.currentRow()
        return self.groups[row].keep if 0 <= row < len(self.groups) else None

    def _show_group(self, row: int) -> None:
        self.members.clear()
        if not 0 <= row < len(self.groups):
            self.keep_button.setEnabled(False)
            return
        self.keep_button.setEnabled(True)
        for m in self.groups[row].members:
            label = self.label_of(m.path)
            distance = {"near": f" ({m.distance:g} bits)", "similar": f" ({m.distance:.2f})"}
            distance = distance.get(m.kind, "")
            text = f"{Path(m.path).name}\n{KIND_TEXT[m.kind]}{distance}\n{label or '—'}"
            item = QListWidgetItem(self._icon(m.path), text)
            item.setData(Qt.ItemDataRole.UserRole, m.path)
            item.setToolTip(m.path)
            self.members.addItem(item)
        self.members.setCurrentRow(0)

    def refresh_labels(self) -> None:
        """The labels shown under the images changed (marked, or undone)."""
        self._show_group(self.group_list.currentRow())

    def _icon(self, path: str) -> QIcon:
        img = self.cache.get(path)
        if img is None:
            self.loader.request(path)
            return QIcon()
        return QIcon(QPixmap.fromImage(img))

    def _on_thumbnail(self, path: str) -> None:
        for i in range(self.members.count()):
            item = self.members.item(i)
            if item.data(Qt.ItemDataRole.UserRole) == path:
                item.setIcon(self._icon(path))
        for i, g in enumerate(self.groups[: self.group_list.count()]):
            if g.keep == path:
                self.group_list.item(i).setIcon(self._icon(path))

    # -- marking -----------------------------------------------------------------------------
    def keep_one(self) -> int:
        """Keep the selected image of the group (else its first, the largest), mark the rest,
        and go on to the next group. Returns how many images were marked."""
        row = self.group_list.currentRow()
        if self.mark is None or not 0 <= row < len(self.groups):
            return 0
        paths = [m.path for m in self.groups[row].members]
        chosen = self.members.currentItem()
        keep = chosen.data(Qt.ItemDataRole.UserRole) if chosen is not None else paths[0]
        n = self.mark(keep, [p for p in paths if p != keep])
        if row + 1 < len(self.groups):
            self.group_list.setCurrentRow(row + 1)
        else:
            self.refresh_labels()
        return n
