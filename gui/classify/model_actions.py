"""The Classify menu's model entries: load a checkpoint, and export the model in use for other
tools (ONNX or TorchScript: :mod:`gui.widgets.model_export`, the same code as
`pigeonhole export`). What the export says goes to the tab's banner."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QWidget

from ..widgets.actions import make_action
from ..widgets.model_export import ModelExporter
from ..widgets.model_panel import ModelPanel

EXPORT_TIP = "The model in use as ONNX or TorchScript, with its class names and preprocessing"


class ModelActions(QObject):
    """``actions`` for the menu; ``exporter`` does the export (tests answer its ``ask_path``)."""

    def __init__(self, host: QWidget, panel: ModelPanel, notify: Callable[..., None]):
        super().__init__(host)
        self.panel, self.notify = panel, notify
        self.act_checkpoint = make_action(host, "Load &checkpoint…", panel.choose_checkpoint)
        self.act_export_model = make_action(host, "E&xport model…", self.export_model)
        self.act_export_model.setToolTip(EXPORT_TIP)
        self.actions = (self.act_checkpoint, self.act_export_model)
        self.exporter = ModelExporter(host)
        self.exporter.started.connect(self.notify)
        self.exporter.done.connect(lambda report: self.notify(f"Exported: {report.line()}."))
        self.exporter.failed.connect(lambda message: self.notify(message, error=True))
        self.exporter.started.connect(lambda _text: self.sync())
        panel.model_loaded.connect(lambda _m: self.sync())
        panel.torch_facts.ready.connect(lambda _facts: self.sync())
        self.exporter.done.connect(lambda _r: self.sync())
        self.exporter.failed.connect(lambda _m: self.sync())
        self.sync()

    def sync(self) -> None:
        """Export needs torch, and a torch model (an ONNX model is exported already)."""
        missing = self.panel.torch_facts.missing
        loaded = self.panel.loaded
        onnx = loaded is not None and loaded.is_onnx
        self.act_export_model.setText(
            "E&xport model (needs the full install)…" if missing else "E&xport model…"
        )
        self.act_export_model.setToolTip(
            "The model in use is an ONNX file already: export a PyTorch checkpoint"
            if onnx and not missing
            else EXPORT_TIP
        )
        ready = loaded is not None and not onnx and not self.exporter.busy and not missing
        self.act_export_model.setEnabled(ready)

    def export_model(self, path: str | None = None) -> bool:
        """Export the model in use (to ``path``, else where the person says)."""
        return self.exporter.export(self.panel.loaded, path)

    def shutdown(self) -> None:
        self.exporter.shutdown()
