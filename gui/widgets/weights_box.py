"""The Model panel's Weights box: the network's ImageNet weights (saying whether they are
downloaded, or that they need the full install) or a checkpoint file."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox

IMAGENET, CHECKPOINT = "imagenet", "checkpoint"


class WeightsBox(QComboBox):
    """``mode()`` is IMAGENET or CHECKPOINT; :meth:`show_for` words the ImageNet entry for a
    network (signals blocked: the choice stays where the new list has it)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.addItem("ImageNet pretrained", IMAGENET)  # (worded for the network once known)
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
        """The entries for ``spec`` (an ArchSpec; None when there is no list of networks):
        its ImageNet weights where it has any, and whether they are downloaded; without torch
        they need the full install, and the choice becomes the checkpoint file."""
        mode = self.mode()
        self.blockSignals(True)
        self.clear()
        if torch_missing:
            self.addItem("ImageNet pretrained (needs the full install)", IMAGENET)
            self.model().item(0).setEnabled(False)
            mode = CHECKPOINT
        elif spec is None or spec.has_pretrained:
            if spec is None:
                text = "ImageNet pretrained"
            elif downloaded:
                text = "ImageNet pretrained (downloaded)"
            else:
                text = f"ImageNet pretrained (downloads {spec.weights_size_mb or 0:.0f} MB once)"
            self.addItem(text, IMAGENET)
        self.addItem("Checkpoint file", CHECKPOINT)
        self.setCurrentIndex(max(0, self.findData(mode)))
        self.blockSignals(False)
