"""The start page of the Classify tab, kept in step with the model: while there is none it
offers the ways to get one (a checkpoint, ImageNet weights, training), while one loads it
says so, and once one is loaded it asks for images. The one place an empty window says what
to do first."""

from __future__ import annotations

from PySide6.QtCore import QObject

from ..widgets.drop_zone import LOADING, NEEDS_MODEL, READY, DropZone
from ..widgets.model_panel import ModelPanel
from ..widgets.torch_support import needs_full_install
from ..widgets.weights_box import IMAGENET


class StartGuide(QObject):
    def __init__(self, model_panel: ModelPanel, zone: DropZone, parent=None):
        super().__init__(parent)
        self.model_panel, self.zone = model_panel, zone
        model_panel.loading_changed.connect(lambda _busy: self.refresh())
        model_panel.model_loaded.connect(lambda _loaded: self.refresh())
        model_panel.load_failed.connect(lambda _message: self.refresh())
        model_panel.torch_facts.ready.connect(lambda _facts: self.refresh())
        zone.open_checkpoint_clicked.connect(model_panel.choose_checkpoint)
        zone.use_imagenet_clicked.connect(self.use_imagenet)

    def use_imagenet(self) -> None:
        """Load the ImageNet weights of the network the model panel shows."""
        self.model_panel.set_weights_mode(IMAGENET)
        self.model_panel.request_load()

    def refresh(self) -> None:
        """Bring the start page up to date with the model: what to do first."""
        mp = self.model_panel
        if mp.busy:
            self.zone.show_start(LOADING, mp.loading_text)
        elif mp.loaded is not None:
            loaded = mp.loaded
            self.zone.show_start(READY, f"Model: {loaded.arch}, {loaded.names_line()}.")
        else:
            spec = mp.arch.spec()
            imagenet = ""
            if spec is not None and spec.has_pretrained:
                size = f", {spec.weights_size_mb:.0f} MB" if spec.weights_size_mb else ""
                imagenet = f"{spec.display_name}{size}"
            self.zone.show_start(NEEDS_MODEL, imagenet=imagenet)
            if mp.torch_facts.missing:  # the lite install: say what needs the full one
                for button, text, what in (
                    (self.zone.imagenet_button, "Use ImageNet weights", "ImageNet weights"),
                    (self.zone.train_button, "Train your own", "Training"),
                ):
                    button.setText(f"{text} (full install)")
                    button.setToolTip(needs_full_install(what))
                    button.setEnabled(False)
                    button.setMinimumWidth(button.sizeHint().width())
