"""The Model panel's File box: an editable combo of checkpoint paths, listing the recently
loaded ones (remembered in the settings) and those shipped in the app's weights folder."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QComboBox

from .elided import PathEdit
from .model_loading import found_checkpoints
from .run_options import compact

MAX_RECENT = 10


class CheckpointBox(QComboBox):
    """Type a path, or pick a recent or shipped checkpoint (shown by name, the path in the
    tooltip). ``editTextChanged`` tells every change of the path."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setEditable(True)
        self.setLineEdit(PathEdit(self))  # a long path cut in the middle, not at its start
        self.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.lineEdit().setPlaceholderText("Choose a checkpoint file…")
        # With its "…" button no wider than the panel's other fields (at 1024x640 beside three
        # side tabs the Model column has ~280 px): the path is cut in the middle anyway.
        compact(self, 10)
        self.activated.connect(self._on_picked)

    def path(self) -> str:
        return self.currentText().strip()

    @staticmethod
    def recent() -> list[str]:
        value = QSettings().value("model/recent", [], type=list)
        return [str(v) for v in value if v]

    def add_recent(self, path: str) -> None:
        """``path`` was loaded: first in the list from now on."""
        recent = ([path] + [p for p in self.recent() if p != path])[:MAX_RECENT]
        QSettings().setValue("model/recent", recent)
        self.fill()

    def fill(self) -> None:
        """List the recent checkpoints, then the shipped ones (the path typed stays)."""
        current = self.path()
        self.blockSignals(True)
        self.clear()
        for p in dict.fromkeys(self.recent() + found_checkpoints()):
            self.addItem(Path(p).name, p)
            self.setItemData(self.count() - 1, p, Qt.ItemDataRole.ToolTipRole)
        self.setEditText(current)
        self.blockSignals(False)

    def _on_picked(self, row: int) -> None:
        path = self.itemData(row)
        if path:
            self.setEditText(path)
