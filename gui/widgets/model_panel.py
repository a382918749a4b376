"""The Model panel: network, weights (ImageNet or a checkpoint), class names, device, precision,
batch size. Loading runs off the UI thread; a failed load leaves the previous model active."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
)

from .arch_picker import ArchPicker, arch_details
from .model_loading import LoadRequest, NeedsTrust, found_checkpoints, load_task
from .workers import WorkerSlot

log = logging.getLogger(__name__)

IMAGENET, CHECKPOINT = "imagenet", "checkpoint"
DECODE_CHOICES = (("auto", "Automatic"), ("cpu", "CPU (Pillow)"), ("gpu", "GPU (nvJPEG)"))
MAX_RECENT = 10
CHECKPOINT_FILTER = "Checkpoints (*.pth *.pt *.pkl *.safetensors *.ckpt);;All files (*)"


class ModelPanel(QGroupBox):
    model_loaded = Signal(object)  # core.checkpoints.LoadedModel
    load_failed = Signal(str)
    loading_changed = Signal(bool)

    def __init__(self, parent=None):
        super().__init__("Model", parent)
        self.loaded = None  # the active LoadedModel
        self.ask = None  # callable(question) -> bool; set by the tab (tests replace it)
        # A scripted run (`pigeonhole gui ... --quit-when-done`): never open a dialog.
        self.unattended = False
        self.loading = WorkerSlot(
            self,
            on_progress=self._on_progress,
            on_finished=self._on_finished,
            on_failed=self._on_failed,
        )
        self._request: LoadRequest | None = None  # what the current load is for
        self._build()
        self.restore_settings()

    # -- construction ------------------------------------------------------------------------
    def _build(self) -> None:
        from pigeonhole.core.devices import PRECISIONS, list_devices

        self.arch = ArchPicker()
        self.arch_info = QLabel()
        self.arch_info.setObjectName("hint")
        self.arch_info.setWordWrap(True)
        self.weights = QComboBox()
        self.checkpoint = QComboBox()
        self.checkpoint.setEditable(True)
        self.checkpoint.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.checkpoint.lineEdit().setPlaceholderText("Choose a checkpoint file…")
        self.checkpoint.setMinimumContentsLength(12)
        self.checkpoint.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.browse = QToolButton(text="…", toolTip="Choose a checkpoint file")
        self.classes = QLineEdit(placeholderText="from the checkpoint")
        self.classes_browse = QToolButton(
            text="…", toolTip="A text file with one class name per line"
        )
        self.device = QComboBox()
        for d in list_devices():
            self.device.addItem(d.label, d.spec)
        self.precision = QComboBox()
        for p in PRECISIONS:
            self.precision.addItem({"auto": "Automatic"}.get(p, p), p)
        self.decode = QComboBox()
        for spec, text in DECODE_CHOICES:
            self.decode.addItem(text, spec)
        self.decode.setToolTip(
            "Where JPEGs are decoded. Automatic: on an NVIDIA GPU when the device is one "
            "(several times faster than Pillow on the CPU), else with Pillow."
        )
        for combo in (self.arch, self.weights, self.device, self.precision, self.decode):
            _compact(combo)
        self.batch = QSpinBox(minimum=0, maximum=1024, specialValueText="Automatic")
        self.load_button = QPushButton("Load model")
        self.load_button.setDefault(True)
        self.progress = QProgressBar(visible=False, textVisible=True)
        self.status = QLabel("No model loaded.")
        self.status.setObjectName("modelStatus")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Network", self.arch)
        form.addRow("", self.arch_info)
        form.addRow("Weights", self.weights)
        row = QHBoxLayout()
        row.addWidget(self.checkpoint, 1)
        row.addWidget(self.browse)
        self.checkpoint_label = QLabel("File")
        form.addRow(self.checkpoint_label, row)
        row = QHBoxLayout()
        row.addWidget(self.classes, 1)
        row.addWidget(self.classes_browse)
        self.classes_label = QLabel("Classes")
        form.addRow(self.classes_label, row)
        form.addRow("Device", self.device)
        form.addRow("Precision", self.precision)
        form.addRow("Decoding", self.decode)
        form.addRow("Batch size", self.batch)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.load_button)
        lay.addWidget(self.progress)
        lay.addWidget(self.status)

        self.arch.arch_changed.connect(self._on_arch)
        self.weights.currentIndexChanged.connect(self._sync_enabled)
        self.browse.clicked.connect(self.choose_checkpoint)
        self.checkpoint.activated.connect(self._on_checkpoint_picked)
        self.classes_browse.clicked.connect(self._choose_classes)
        self.load_button.clicked.connect(lambda: self.request_load())
        for w in (self.device, self.precision, self.decode):
            w.currentIndexChanged.connect(self.save_run_settings)
        self.batch.valueChanged.connect(self.save_run_settings)
        self._on_arch(self.arch.current_arch())

    def _on_arch(self, name: str) -> None:
        from pigeonhole.core.models.checkpoints import imagenet_weights_cached

        spec = self.arch.spec(name)
        if spec is None:
            return
        self.arch_info.setText(arch_details(spec))
        mode = self.weights_mode()
        self.weights.blockSignals(True)
        self.weights.clear()
        if spec.has_pretrained:
            if imagenet_weights_cached(spec.name):
                text = "ImageNet pretrained (downloaded)"
            else:
                text = f"ImageNet pretrained (downloads {spec.weights_size_mb or 0:.0f} MB once)"
            self.weights.addItem(text, IMAGENET)
        self.weights.addItem("Checkpoint file", CHECKPOINT)
        self.weights.setCurrentIndex(max(0, self.weights.findData(mode)))
        self.weights.blockSignals(False)
        self._sync_enabled()

    def _sync_enabled(self) -> None:
        is_file = self.weights_mode() == CHECKPOINT
        for w in (self.checkpoint, self.browse, self.classes, self.classes_browse):
            w.setEnabled(is_file)

    # -- values ------------------------------------------------------------------------------
    def weights_mode(self) -> str:
        if self.weights.currentIndex() < 0:  # (an empty combo's data would be None)
            return CHECKPOINT
        return self.weights.currentData() or CHECKPOINT

    def set_weights_mode(self, mode: str) -> None:
        i = self.weights.findData(mode)
        if i >= 0:
            self.weights.setCurrentIndex(i)

    def checkpoint_path(self) -> str:
        return self.checkpoint.currentText().strip()

    def set_checkpoint_path(self, path: str) -> None:
        self.set_weights_mode(CHECKPOINT)
        self.checkpoint.setEditText(str(path))

    def run_options(self) -> dict:
        return {
            "device": self.device.currentData() or "auto",
            "precision": self.precision.currentData() or "auto",
            "decode": self.decode.currentData() or "auto",
            "batch_size": int(self.batch.value()),
        }

    @property
    def busy(self) -> bool:
        """A model is loading (a newer request replaces an older one)."""
        return self.loading.busy

    # -- choosing files ----------------------------------------------------------------------
    def choose_checkpoint(self) -> None:
        start = str(Path(self.checkpoint_path()).parent) if self.checkpoint_path() else ""
        path, _ = QFileDialog.getOpenFileName(self, "Choose a checkpoint", start, CHECKPOINT_FILTER)
        if path:
            self.set_checkpoint_path(path)
            self.request_load()

    def _choose_classes(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Class names", "", "Text files (*.txt);;All files (*)"
        )
        if path:
            self.classes.setText(path)

    def _fill_checkpoint_list(self, recent: list[str]) -> None:
        current = self.checkpoint_path()
        self.checkpoint.blockSignals(True)
        self.checkpoint.clear()
        for p in dict.fromkeys(recent + found_checkpoints()):
            self.checkpoint.addItem(Path(p).name, p)
            self.checkpoint.setItemData(self.checkpoint.count() - 1, p, Qt.ItemDataRole.ToolTipRole)
        self.checkpoint.setEditText(current)
        self.checkpoint.blockSignals(False)

    def _on_checkpoint_picked(self, row: int) -> None:
        path = self.checkpoint.itemData(row)
        if path:
            self.checkpoint.setEditText(path)

    # -- loading -----------------------------------------------------------------------------
    def request_load(self, trust: bool = False) -> bool:
        """Load what the panel shows. False (with a message) when there is nothing to load."""
        if self.weights_mode() == CHECKPOINT:
            path = self.checkpoint_path()
            if not path:
                self._show_error("Choose a checkpoint file first (or ImageNet weights).")
                return False
            req = LoadRequest(
                self.arch.current_arch(), path, self.classes.text().strip() or None, trust
            )
        else:
            req = LoadRequest(self.arch.current_arch(), None, None)
        self.start_load(req)
        return True

    def start_load(self, req: LoadRequest) -> None:
        """Load ``req`` off the GUI thread; a load still going is replaced (its result dropped)."""
        self._request = req
        self.loading.start(load_task, req)
        what = Path(req.checkpoint).name if req.checkpoint else f"{req.arch} ImageNet weights"
        self.status.setText(f"Loading {what}…")
        self.status.setProperty("error", False)
        self._restyle()
        self.progress.setRange(0, 0)
        self.progress.setVisible(True)
        self.load_button.setEnabled(False)
        self.loading_changed.emit(True)

    def _on_progress(self, done: int, total: int) -> None:
        if total > 0:
            self.progress.setRange(0, total)
            self.progress.setValue(done)
            self.progress.setFormat(f"{done / 1e6:.0f} of {total / 1e6:.0f} MB")

    def _end_loading(self) -> None:
        self.progress.setVisible(False)
        self.load_button.setEnabled(True)
        self.loading_changed.emit(False)

    def _on_finished(self, result) -> None:
        req = self._request
        self._end_loading()
        if isinstance(result, NeedsTrust):
            question = (
                f"{result.message}\n\nLoad anyway? Only for files you trust: "
                "such a file can run any code on this computer."
            )
            if self.unattended:  # a scripted run: nobody to ask, the command line decides
                self._on_failed(f"{result.message} If you trust this file, add --trust-checkpoint.")
            elif self.ask is not None and self.ask(question):
                self.start_load(LoadRequest(req.arch, req.checkpoint, req.classes, trust=True))
            else:
                self._on_failed("Not loaded: the checkpoint needs code you did not trust.")
            return
        if result is None:
            return
        self.loaded = result
        self.arch.blockSignals(True)
        self.arch.set_arch(result.arch)
        self.arch.blockSignals(False)
        self._on_arch(result.arch)
        if req.checkpoint:
            self.set_checkpoint_path(req.checkpoint)
        else:
            self.set_weights_mode(IMAGENET)
        notes = "".join(f"<br><small>{n}</small>" for n in result.notes)
        n = result.num_classes
        self.status.setText(
            f"<b>{result.arch}</b> · {n:,} classes<br><small>{result.source}</small>{notes}"
        )
        self.status.setProperty("error", False)
        self._restyle()
        self._remember(req)
        self.model_loaded.emit(result)

    def _on_failed(self, message: str) -> None:
        """Say here only that it failed: ``load_failed`` carries the message to the one place
        the window shows it (the Classify tab's banner), so it is never said twice."""
        self._end_loading()
        keep = f" Still using {self.loaded.arch}." if self.loaded else ""
        self._show_error(f"Not loaded.{keep}")
        self.load_failed.emit(message)

    def _show_error(self, message: str, extra: str = "") -> None:
        import html

        self.status.setText(html.escape(message) + extra)
        self.status.setProperty("error", True)
        self._restyle()

    def _restyle(self) -> None:
        self.status.style().unpolish(self.status)
        self.status.style().polish(self.status)

    def shutdown(self) -> None:
        """Stop loading and wait for the loading threads (window closing)."""
        self.loading.shutdown()

    # -- settings ----------------------------------------------------------------------------
    def _remember(self, req: LoadRequest) -> None:
        s = QSettings()
        s.setValue("model/arch", self.arch.current_arch())
        s.setValue("model/weights", CHECKPOINT if req.checkpoint else IMAGENET)
        if req.checkpoint:
            s.setValue("model/checkpoint", req.checkpoint)
            s.setValue("model/classes", req.classes or "")
            recent = [req.checkpoint] + [p for p in self.recent() if p != req.checkpoint]
            s.setValue("model/recent", recent[:MAX_RECENT])
            self._fill_checkpoint_list(recent[:MAX_RECENT])

    @staticmethod
    def recent() -> list[str]:
        value = QSettings().value("model/recent", [], type=list)
        return [str(v) for v in value if v]

    def save_run_settings(self, *_args) -> None:
        s = QSettings()
        for key, value in self.run_options().items():
            s.setValue(f"run/{key}", value)

    def restore_settings(self) -> None:
        s = QSettings()
        self.arch.set_arch(s.value("model/arch", "resnet18", type=str))
        self._fill_checkpoint_list(self.recent())
        self.checkpoint.setEditText(s.value("model/checkpoint", "", type=str))
        self.classes.setText(s.value("model/classes", "", type=str))
        self.set_weights_mode(s.value("model/weights", IMAGENET, type=str))
        pairs = (
            (self.device, "run/device"),
            (self.precision, "run/precision"),
            (self.decode, "run/decode"),
        )
        for combo, key in pairs:
            combo.blockSignals(True)
            combo.setCurrentIndex(max(0, combo.findData(s.value(key, "auto", type=str))))
            combo.blockSignals(False)
        self.batch.blockSignals(True)
        self.batch.setValue(s.value("run/batch_size", 0, type=int))
        self.batch.blockSignals(False)

    def autoload(self) -> bool:
        """Load the last model used; the first time, ResNet-18 if its ImageNet weights are cached.
        Returns False when the person has to choose."""
        from pigeonhole.core.models.checkpoints import imagenet_weights_cached

        s = QSettings()
        mode = s.value("model/weights", "", type=str)
        path = self.checkpoint_path()
        if mode == CHECKPOINT and path and Path(path).is_file():
            return self.request_load()
        arch = self.arch.current_arch()
        if mode in (IMAGENET, "") and imagenet_weights_cached(arch):
            self.set_weights_mode(IMAGENET)
            return self.request_load()
        self.set_weights_mode(CHECKPOINT)
        self.status.setText("No model loaded.")  # the start page says what to do
        return False


def _compact(combo: QComboBox, chars: int = 14) -> None:
    """Let a combo shrink to the panel's width (long CPU or network names are elided)."""
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(chars)
