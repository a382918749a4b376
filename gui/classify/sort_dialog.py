"""The "Sort into folders" dialog: where, copy or move, an optional "unsure" folder, which
images. The sorting itself is core.results.sorting's, run on a worker by the Classify tab."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QRadioButton,
    QToolButton,
    QVBoxLayout,
)

ALL, SHOWN, SELECTED = "all", "shown", "selected"


@dataclass(frozen=True, slots=True)
class SortOptions:
    dest: str
    mode: str  # "copy" | "move"
    unsure_threshold: float | None  # 0..1; images below go to unsure_name
    unsure_name: str
    scope: str  # ALL | SHOWN | SELECTED


class SortDialog(QDialog):
    def __init__(self, counts: dict[str, int], parent=None):
        """``counts``: how many images each scope holds, e.g. {"all": 500, "shown": 40}."""
        super().__init__(parent)
        self.setWindowTitle("Sort into folders")
        self.setMinimumWidth(520)
        s = QSettings()
        self.dest = QLineEdit(s.value("sort/dest", "", type=str))
        self.dest.setPlaceholderText("Destination folder")
        browse = QToolButton(text="…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.dest, 1)
        row.addWidget(browse)
        self.copy = QRadioButton("Copy (the originals stay where they are; can be undone)")
        self.move = QRadioButton("Move (can be undone from the Classify menu)")
        group = QButtonGroup(self)
        group.addButton(self.copy)
        group.addButton(self.move)
        (self.move if s.value("sort/mode", "copy", type=str) == "move" else self.copy).setChecked(
            True
        )
        self.unsure = QCheckBox("Put images below")
        self.unsure.setChecked(s.value("sort/unsure", False, type=bool))
        self.threshold = QDoubleSpinBox(minimum=1, maximum=99, decimals=0, suffix=" %")
        self.threshold.setValue(s.value("sort/threshold", 50.0, type=float))
        self.unsure_name = QLineEdit(s.value("sort/unsure_name", "unsure", type=str))
        self.unsure_name.setMaximumWidth(120)
        unsure_row = QHBoxLayout()
        unsure_row.addWidget(self.unsure)
        unsure_row.addWidget(self.threshold)
        unsure_row.addWidget(QLabel("confidence in"))
        unsure_row.addWidget(self.unsure_name)
        unsure_row.addStretch(1)
        self.scope = QComboBox()
        names = {
            ALL: "All results",
            SHOWN: "The images shown (filter)",
            SELECTED: "The selected images",
        }
        for key in (ALL, SHOWN, SELECTED):
            n = counts.get(key, 0)
            if n:
                self.scope.addItem(f"{names[key]}: {n:,}", key)
        note = QLabel(
            "Images go to <i>destination/label/</i>, corrected labels included. Existing files "
            "are never overwritten: a name already taken gets a suffix. Failed images are skipped."
        )
        note.setWordWrap(True)
        note.setObjectName("hint")
        form = QFormLayout()
        form.addRow("Destination", row)
        form.addRow("Images", self.scope)
        form.addRow("How", self.copy)
        form.addRow("", self.move)
        form.addRow("Unsure", unsure_row)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Sort")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(note)
        lay.addWidget(self.buttons)
        self.dest.textChanged.connect(self._validate)
        self.unsure.toggled.connect(self._validate)
        self._validate()

    def _browse(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Sort into", self.dest.text())
        if path:
            self.dest.setText(path)

    def _validate(self) -> None:
        ok = bool(self.dest.text().strip()) and self.scope.count() > 0
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(ok)
        self.threshold.setEnabled(self.unsure.isChecked())
        self.unsure_name.setEnabled(self.unsure.isChecked())

    def options(self) -> SortOptions:
        return SortOptions(
            dest=str(Path(self.dest.text().strip()).expanduser()),
            mode="move" if self.move.isChecked() else "copy",
            unsure_threshold=self.threshold.value() / 100 if self.unsure.isChecked() else None,
            unsure_name=self.unsure_name.text().strip() or "unsure",
            scope=(self.scope.currentData() if self.scope.currentIndex() >= 0 else "") or ALL,
        )

    def accept(self) -> None:
        o = self.options()
        s = QSettings()
        s.setValue("sort/dest", o.dest)
        s.setValue("sort/mode", o.mode)
        s.setValue("sort/unsure", o.unsure_threshold is not None)
        s.setValue("sort/threshold", self.threshold.value())
        s.setValue("sort/unsure_name", o.unsure_name)
        super().accept()
