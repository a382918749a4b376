"""The Model panel's Weights box: the network's ImageNet weights (saying whether they are
downloaded, or that they need the full install) or a checkpoint file."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox

from .torch_support import FULL_INSTALL

IMAGENET, CHECKPOINT = "imagenet", "checkpoint"
TOOLTIP = Qt.ItemDataRole.ToolTipRole


class WeightsBox(QComboBox):
    """``mode()`` is IMAGENET or CHECKPOINT; :meth:`show_for` words the ImageNet entry for a
    network (signals blocked: the choice stays where the new list has it)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.addItem("ImageNet", IMAGENET)  # (worded for the network by show_for)
        self.addItem("Checkpoint file", CHECKPOINT)

    def mode(self) -> str:
        if self.currentIndex() < 0:  # (an empty combo's data would be None)
            return CHECKPOINT
        return self.currentData() or CHECKPOINT

    def set_mode(self, mode: str) -> None:
        i = self.findData(mode)
        if i >= 0 and self.model().item(i).isEnabled():
            self.setCurrentIndex(i)

    def show_for(self, spec, downloaded: bool, torch_missing: bool) -> None:
        """The entries for ``spec`` (an ArchSpec): its ImageNet weights where it has any, and
        whether they are downloaded (short words: the box is narrow on a laptop; the rest in
        the tooltip); without torch they need the full install, and the choice becomes the
        checkpoint file."""
        mode = self.mode()
        self.blockSignals(True)
        self.clear()
        if spec.has_pretrained and torch_missing:
            self.addItem("ImageNet (needs the full install)", IMAGENET)
            self.setItemData(0, f"ImageNet weights need {FULL_INSTALL}", TOOLTIP)
            self.model().item(0).setEnabled(False)
            mode = CHECKPOINT
        elif spec.has_pretrained:
            size = f"{spec.weights_size_mb or 0:.0f} MB"
            if downloaded:
                text, tip = "ImageNet (downloaded)", "ImageNet pretrained weights, downloaded"
            else:
                text, tip = f"ImageNet ({size} once)", f"ImageNet pretrained weights: {size}, "
                tip += "downloaded the first time"
            self.addItem(text, IMAGENET)
            self.setItemData(0, tip, TOOLTIP)
        self.addItem("Checkpoint file", CHECKPOINT)
        self.setCurrentIndex(max(0, self.findData(mode)))
        self.blockSignals(False)
