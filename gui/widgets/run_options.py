"""How the Model panel's model runs: device, engine, precision, JPEG decoding and batch size,
remembered in the settings. On the CPU the engine can be chosen (PyTorch or ONNX Runtime) and
the precision list offers "Fast (int8)" (ONNX Runtime, calibrated on the images being
classified); on a GPU both stay PyTorch's."""

from __future__ import annotations

from PySide6.QtCore import QObject, QSettings, Qt, Signal
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import QComboBox, QFormLayout, QSpinBox

from ...core.runtime.options import (
    DECODES,
    ENGINES,
    INT8,
    MAX_BATCH,
    PRECISIONS,
    RUN_PRECISIONS,
    Choice,
    RunOptions,
)
from ...core.runtime.plan import onnxruntime_missing
from .torch_support import LOADING, cpu_devices, needs_full_install

INT8_TEXT = RUN_PRECISIONS[-1].label
_TOOLTIP = Qt.ItemDataRole.ToolTipRole
ENGINE_TIP = (
    "What runs the network on the CPU. Automatic: ONNX Runtime where it was measured faster "
    "for this kind of network (most), else PyTorch. GPUs always run PyTorch."
)
INT8_TIP = (
    "Fast (int8): several times faster on the CPU (ONNX Runtime). Calibrated once on images "
    "of the folder you classify; its agreement with full precision is measured on others and "
    "shown before the results."
)


def compact(combo: QComboBox, chars: int = 14) -> None:
    """Let a combo shrink to the panel's width (long CPU or network names are elided)."""
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(chars)


def _enable_item(combo: QComboBox, data: str, enabled: bool, tip: str = "") -> None:
    row = combo.findData(data)
    model = combo.model()
    if row >= 0 and isinstance(model, QStandardItemModel):
        item = model.item(row)
        item.setEnabled(enabled)
        item.setToolTip(tip)


def _add_choices(combo: QComboBox, choices: tuple[Choice, ...]) -> None:
    for c in choices:
        combo.addItem(c.label, c.spec)


class RunOptionsForm(QObject):
    """The run settings' widgets (added to a form by :meth:`add_rows`) and the RunOptions they
    describe (:meth:`values`)."""

    changed = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.ort_missing = onnxruntime_missing()  # None when ONNX Runtime is installed
        self.device = QComboBox()
        self._auto_device = "cpu"  # what "auto" runs on (the CPU until torch tells otherwise)
        self._wanted_device = "auto"  # the remembered device, until the list has it
        for spec, label in cpu_devices():  # the GPUs once torch tells them (set_devices)
            self.device.addItem(label, spec)
        self.engine = QComboBox(toolTip=ENGINE_TIP)
        _add_choices(self.engine, ENGINES)
        if self.ort_missing:
            _enable_item(self.engine, "onnxruntime", False, self.ort_missing)
        self.precision = QComboBox()
        self.decode = QComboBox()
        _add_choices(self.decode, DECODES)
        self.decode.setToolTip(
            "Where JPEGs are decoded. Automatic: on an NVIDIA GPU when the device is one "
            "(several times faster than Pillow on the CPU), else with Pillow."
        )
        for combo in (self.device, self.engine, self.precision, self.decode):
            compact(combo)
        self.batch = QSpinBox(minimum=0, maximum=MAX_BATCH, specialValueText="Automatic")
        self._engine_before_int8: str | None = None
        self._fill_precisions()
        self.device.currentIndexChanged.connect(self._on_device)
        self.precision.currentIndexChanged.connect(self._on_precision)
        for w in (self.engine, self.decode):
            w.currentIndexChanged.connect(self._save)
        self.batch.valueChanged.connect(self._save)

    def set_devices(self, facts) -> None:
        """The devices torch found (a gui.widgets.torch_support.TorchFacts); without torch,
        the CPU alone, and PyTorch's engine and the GPUs said to need the full install."""
        self._auto_device = facts.auto_device
        self.device.blockSignals(True)
        self.device.clear()
        for spec, label in facts.devices:
            self.device.addItem(label, spec)
        if facts.missing is not None:
            self.device.addItem("GPU (needs the full install)", "gpu")
            _enable_item(self.device, "gpu", False, needs_full_install("Running on a GPU"))
            _enable_item(self.engine, "torch", False, needs_full_install("PyTorch"))
        self.device.setCurrentIndex(max(0, self.device.findData(self._wanted_device)))
        if self.device.findData(self._wanted_device) < 0:  # a GPU this machine does not have
            self._wanted_device = self.device.currentData() or "auto"
        self.device.blockSignals(False)
        self.device.setToolTip("")
        self._fill_precisions()

    def show_loading(self, loading: bool) -> None:
        """torch is being imported: the GPUs are listed once it is."""
        self.device.setToolTip(f"{LOADING} GPUs are listed once it is loaded." if loading else "")

    def add_rows(self, form: QFormLayout) -> None:
        form.addRow("Device", self.device)
        form.addRow("Engine", self.engine)
        form.addRow("Precision", self.precision)
        form.addRow("Decoding", self.decode)
        form.addRow("Batch size", self.batch)

    # -- values ------------------------------------------------------------------------------
    def on_cpu(self) -> bool:
        """The device chosen is the CPU (Automatic on a machine without a GPU included)."""
        spec = self.device.currentData() or "auto"
        return (self._auto_device if spec == "auto" else spec) == "cpu"

    def values(self) -> RunOptions:
        """What a run is asked to use (the engine is a CPU choice: GPUs run torch)."""
        return RunOptions(
            device=self._device_spec(),
            engine=(self.engine.currentData() or "auto") if self.on_cpu() else "auto",
            precision=self.precision.currentData() or "auto",
            decode=self.decode.currentData() or "auto",
            batch_size=int(self.batch.value()),
        )

    def _device_spec(self) -> str:
        """The device chosen; the remembered one while the list still lacks it (torch is
        loading), so that nothing chosen meanwhile forgets it."""
        spec = self.device.currentData() or "auto"
        if self.device.findData(self._wanted_device) < 0:
            return self._wanted_device
        return spec

    def select(self, combo: QComboBox, data: str) -> bool:
        """Choose the entry of ``combo`` whose data is ``data``; False when there is none."""
        row = combo.findData(data)
        if row >= 0:
            combo.setCurrentIndex(row)
        return row >= 0

    # -- keeping the choices consistent -----------------------------------------------------
    def _fill_precisions(self, want: str | None = None) -> None:
        """Automatic and the float precisions; "Fast (int8)" too on the CPU. Keeps the choice
        (or takes ``want``) where the new list has it, else Automatic."""
        current = want or self.precision.currentData() or "auto"
        self.precision.blockSignals(True)
        self.precision.clear()
        _add_choices(self.precision, PRECISIONS)
        if self.on_cpu():
            self.precision.addItem(INT8_TEXT, INT8)
            self.precision.setItemData(self.precision.count() - 1, INT8_TIP, _TOOLTIP)
            if self.ort_missing:
                _enable_item(self.precision, INT8, False, f"int8 needs {self.ort_missing}")
        self.precision.setCurrentIndex(max(0, self.precision.findData(current)))
        self.precision.blockSignals(False)
        self._sync_engine()

    def _sync_engine(self) -> None:
        """The engine is a CPU choice; int8 always runs on ONNX Runtime."""
        on_cpu = self.on_cpu()
        int8 = self.precision.currentData() == INT8
        if int8 and self._engine_before_int8 is None:
            self._engine_before_int8 = self.engine.currentData() or "auto"
            self.engine.blockSignals(True)
            self.select(self.engine, "onnxruntime")
            self.engine.blockSignals(False)
        elif not int8 and self._engine_before_int8 is not None:
            self.engine.blockSignals(True)
            self.select(self.engine, self._engine_before_int8)
            self.engine.blockSignals(False)
            self._engine_before_int8 = None
        self.engine.setEnabled(on_cpu and not int8)
        if not on_cpu:
            self.engine.setToolTip("GPUs run PyTorch.")
        elif int8:
            self.engine.setToolTip("int8 runs on ONNX Runtime.")
        else:
            self.engine.setToolTip(ENGINE_TIP)

    def _on_device(self, *_args) -> None:
        self._wanted_device = self.device.currentData() or "auto"
        self._fill_precisions()
        self._save()

    def _on_precision(self, *_args) -> None:
        self._sync_engine()
        self._save()

    # -- settings ----------------------------------------------------------------------------
    def _save(self, *_args) -> None:
        s = QSettings()
        for key, value in self.values().as_dict().items():
            s.setValue(f"run/{key}", value)
        if self._engine_before_int8 is not None:  # the choice to come back to, not int8's
            s.setValue("run/engine", self._engine_before_int8)
        self.changed.emit()

    def restore(self) -> None:
        s = QSettings()
        widgets = (self.device, self.engine, self.decode)
        for w in widgets:
            w.blockSignals(True)
        self._wanted_device = s.value("run/device", "auto", type=str)
        for combo, key in zip(widgets, ("device", "engine", "decode"), strict=True):
            combo.setCurrentIndex(max(0, combo.findData(s.value(f"run/{key}", "auto", type=str))))
        for w in widgets:
            w.blockSignals(False)
        self._engine_before_int8 = None
        self._fill_precisions(s.value("run/precision", "auto", type=str))
        self.batch.blockSignals(True)
        self.batch.setValue(s.value("run/batch_size", 0, type=int))
        self.batch.blockSignals(False)
