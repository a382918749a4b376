"""The Train tab's panels: data (folder, classes table, warnings), network and base weights,
options (the less common ones under "Advanced"), and the column that holds them with the
Start and Cancel buttons."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ...core.data.datasets import MIN_PER_CLASS, DatasetPlan
from ...core.models.archs import list_archs
from ...core.models.files import TORCH_SUFFIXES, file_filter
from ...core.models.imagenet import imagenet_weights_cached
from ...core.training.records import TrainConfig
from ..widgets.arch_picker import ArchPicker
from ..widgets.elided import PathEdit
from ..widgets.model_choices import PreprocessingPicker
from ..widgets.tables import read_only_table, table_item
from ..widgets.torch_support import needs_full_install


class DataPanel(QGroupBox):
    folder_chosen = Signal(str)
    split_changed = Signal()

    def __init__(self, parent=None):
        super().__init__("Data", parent)
        self.path = PathEdit(placeholderText="Drop a folder here, or choose one…")
        self.path.returnPressed.connect(lambda: self.folder_chosen.emit(self.path.text().strip()))
        choose = QPushButton("Choose…")
        choose.clicked.connect(self._choose)
        row = QHBoxLayout()
        row.addWidget(self.path, 1)
        row.addWidget(choose)
        self.layout_label = QLabel("One sub-folder per class, or train/ and val/ folders of them.")
        self.layout_label.setObjectName("hint")
        self.layout_label.setWordWrap(True)
        self.table = read_only_table(["Class", "Train", "Val"])
        self.table.setMinimumHeight(110)
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.warnings = QLabel()
        self.warnings.setObjectName("dropMessage")
        self.warnings.setWordWrap(True)
        self.warnings.hide()
        self.split = QSpinBox(suffix=" %", minimum=0, maximum=50, value=20)
        self.split.setToolTip("Share of each class held out for validation (stratified, seeded)")
        self.split.valueChanged.connect(lambda _v: self.split_changed.emit())
        split_row = QHBoxLayout()
        split_row.addWidget(QLabel("Validation split"))
        split_row.addWidget(self.split)
        split_row.addStretch(1)
        lay = QVBoxLayout(self)
        lay.addLayout(row)
        lay.addWidget(self.layout_label)
        lay.addLayout(split_row)
        lay.addWidget(self.table, 1)
        lay.addWidget(self.warnings)

    def _choose(self) -> None:
        start = self.path.text() or str(Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Training data folder", start)
        if folder:
            self.folder_chosen.emit(folder)

    def set_folder(self, folder: str) -> None:
        self.path.setText(folder)

    def folder(self) -> str:
        return self.path.text().strip()

    def val_split(self) -> float:
        return self.split.value() / 100

    def show_plan(self, plan: DatasetPlan | None, error: str = "") -> None:
        self.table.setRowCount(0)
        if plan is None:
            self.layout_label.setText(error or "Choose a folder.")
            self.layout_label.setStyleSheet("color:#b91c1c" if error else "")
            self.warnings.hide()
            return
        self.layout_label.setStyleSheet("")
        self.layout_label.setText(f"{plan.num_classes} classes · {plan.layout}")
        self.split.setEnabled(plan.val_dir is None)
        counts = plan.counts()
        self.table.setRowCount(len(counts) + 1)
        for r, c in enumerate(counts):
            cells = [table_item(c.name, False), table_item(c.train), table_item(c.val)]
            if c.train < MIN_PER_CLASS:
                for cell in cells:
                    cell.setForeground(QBrush(QColor("#b45309")))
                cells[0].setToolTip(f"Fewer than {MIN_PER_CLASS} training images")
            for k, cell in enumerate(cells):
                self.table.setItem(r, k, cell)
        total = [table_item("Total", False), table_item(len(plan.train)), table_item(len(plan.val))]
        for k, cell in enumerate(total):
            font = cell.font()
            font.setBold(True)
            cell.setFont(font)
            self.table.setItem(len(counts), k, cell)
        notes = list(plan.warnings)
        if plan.ignored:
            notes.append(f"{plan.ignored} non-image file(s) ignored.")
        self.warnings.setText("\n".join(f"⚠ {w}" for w in notes))
        self.warnings.setVisible(bool(notes))


class NetworkPanel(QGroupBox):
    def __init__(self, parent=None):
        super().__init__("Network", parent)
        self.picker = ArchPicker(specs=list_archs())  # (the registry reads without torch)
        self._missing: str | None = None  # why torch cannot be used here (training needs it)
        for combo in (self.picker,):
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            combo.setMinimumContentsLength(16)
        self.weights = QComboBox()
        self.weights.addItem("ImageNet weights", "imagenet")
        self.weights.addItem("A checkpoint file", "checkpoint")
        self.weights.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.weights.setMinimumContentsLength(12)
        self.weights.currentIndexChanged.connect(self._sync)
        self.picker.arch_changed.connect(lambda _n: self._sync())
        self.checkpoint_edit = PathEdit(placeholderText="Base checkpoint (.pth, .safetensors…)")
        self.browse = QPushButton("…")
        self.browse.setFixedWidth(32)
        self.browse.clicked.connect(self._choose)
        row = QHBoxLayout()
        row.addWidget(self.checkpoint_edit, 1)
        row.addWidget(self.browse)
        self.note = QLabel()
        self.note.setObjectName("hint")
        self.note.setWordWrap(True)
        form = QFormLayout(self)
        form.addRow("Architecture", self.picker)
        form.addRow("Base weights", self.weights)
        form.addRow("", row)
        form.addRow(self.note)
        self.preprocessing = PreprocessingPicker(self)
        self.preprocessing.combo.setMinimumContentsLength(8)  # the column is narrow at 1024
        self.preprocessing.add_rows(form)
        self._sync()

    def source(self, trust: bool = False):
        """The base network as core's ModelSource (the same as `pigeonhole train` builds from
        --arch/--checkpoint/--preprocess; ``trust``: the person said yes to its pickle code)."""
        from ...core.models.loaded import ModelSource

        checkpoint = self.checkpoint() if self.mode() == "checkpoint" else None
        return ModelSource.chosen(
            checkpoint, self.arch(), trust=trust, preprocessing=self.preprocessing.preset()
        )

    def _choose(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Base checkpoint", "", file_filter(TORCH_SUFFIXES, "Checkpoints")
        )
        if path:
            self.set_checkpoint(path)

    def set_checkpoint(self, path: str) -> None:
        self.checkpoint_edit.setText(path)
        self.weights.setCurrentIndex(self.weights.findData("checkpoint"))
        self._sync()

    def mode(self) -> str:
        return self.weights.currentData()

    def arch(self) -> str | None:
        """The picked architecture; None when a checkpoint says which it is."""
        return None if self.mode() == "checkpoint" else self.picker.current_arch()

    def checkpoint(self) -> str:
        return self.checkpoint_edit.text().strip()

    def set_torch_missing(self, missing: str | None) -> None:
        """Why torch cannot be used here (None: it can): then training cannot start."""
        self._missing = missing
        self._sync()

    def _sync(self) -> None:
        ckpt = self.mode() == "checkpoint"
        self.picker.setEnabled(not ckpt and self.picker.filled)
        self.checkpoint_edit.setEnabled(ckpt)
        self.browse.setEnabled(ckpt)
        if self._missing:
            self.note.setText(needs_full_install("Training"))
            return
        if ckpt:
            self.note.setText("The architecture is read from the checkpoint; its head is replaced.")
            return
        spec = self.picker.spec()
        if spec is None:
            return
        if not spec.has_pretrained:
            self.note.setText(f"{spec.display_name} has no ImageNet weights: choose a checkpoint.")
        elif imagenet_weights_cached(spec.name):
            self.note.setText("ImageNet weights are on this computer.")
        else:
            size = f" ({spec.weights_size_mb:.0f} MB)" if spec.weights_size_mb else ""
            self.note.setText(f"ImageNet weights download once{size} when training starts.")

    def save_settings(self) -> None:
        s = QSettings()
        s.setValue("train/arch", self.picker.current_arch())
        s.setValue("train/weights", self.mode())
        s.setValue("train/checkpoint", self.checkpoint())
        s.setValue("train/preprocess", self.preprocessing.preset() or "")

    def restore_settings(self) -> None:
        s = QSettings()
        self.picker.set_arch(s.value("train/arch", "resnet18", type=str))
        self.checkpoint_edit.setText(s.value("train/checkpoint", "", type=str))
        idx = self.weights.findData(s.value("train/weights", "imagenet", type=str))
        self.weights.setCurrentIndex(max(0, idx))
        self.preprocessing.set_preset(s.value("train/preprocess", "", type=str) or None)
        self._sync()


class OptionsPanel(QGroupBox):
    _KEYS = ("epochs", "lr", "batch", "wd", "optimizer", "augment", "balanced", "patience", "seed")

    def __init__(self, parent=None):
        super().__init__("Training", parent)
        d = TrainConfig()
        self.epochs_spin = QSpinBox(minimum=1, maximum=1000, value=d.epochs)
        self.lr = QDoubleSpinBox(decimals=5, minimum=1e-5, maximum=1.0, singleStep=1e-3, value=d.lr)
        self.batch = QSpinBox(minimum=1, maximum=4096, value=d.batch_size)
        self.wd = QDoubleSpinBox(
            decimals=5, minimum=0.0, maximum=1.0, singleStep=1e-4, value=d.weight_decay
        )
        self.optimizer = QComboBox()
        self.optimizer.addItem("AdamW", "adamw")
        self.optimizer.addItem("SGD + momentum", "sgd")
        self.optimizer.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.optimizer.setMinimumContentsLength(6)
        self.augment = QSpinBox(minimum=0, maximum=20, value=d.augment)
        self.augment.setSpecialValueText("none")
        self.augment.setToolTip(
            "Random resized crops and flips per training image, extracted once and cached"
        )
        self.balanced = QCheckBox("Class-balanced loss")
        self.patience = QSpinBox(minimum=0, maximum=1000, value=d.patience)
        self.patience.setSpecialValueText("off")
        self.patience.setToolTip(
            "Early stopping: stop after this many epochs without a better validation loss"
        )
        self.seed_spin = QSpinBox(minimum=0, maximum=999_999, value=d.seed)
        # Up front: how long to train and how many augmented views; the rest under Advanced.
        main = QFormLayout()
        main.addRow("Epochs", self.epochs_spin)
        main.addRow("Augmented views", self.augment)
        self.advanced_button = QToolButton(text="Advanced", checkable=True)
        self.advanced_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.advanced_button.setAutoRaise(True)
        self.advanced_button.toggled.connect(self._show_advanced)
        self.advanced_button.toggled.connect(
            lambda on: QSettings().setValue("train/advanced_open", on)
        )
        self.advanced = QWidget()
        grid = QGridLayout(self.advanced)
        grid.setContentsMargins(0, 0, 0, 0)
        rows = (
            ("Learning rate", self.lr, "Weight decay", self.wd),
            ("Batch size", self.batch, "Patience", self.patience),
            ("Optimizer", self.optimizer, "Seed", self.seed_spin),
        )
        for r, (a, wa, b, wb) in enumerate(rows):
            grid.addWidget(QLabel(a), r, 0)
            grid.addWidget(wa, r, 1)
            grid.addWidget(QLabel(b), r, 2)
            grid.addWidget(wb, r, 3)
        grid.addWidget(self.balanced, len(rows), 0, 1, 4)
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(3, 1)
        lay = QVBoxLayout(self)
        lay.addLayout(main)
        lay.addWidget(self.advanced_button)
        lay.addWidget(self.advanced)
        self._show_advanced(False)

    def _show_advanced(self, on: bool) -> None:
        self.advanced.setVisible(on)
        self.advanced_button.setArrowType(Qt.ArrowType.DownArrow if on else Qt.ArrowType.RightArrow)
        self.advanced_button.setChecked(on)

    def epochs(self) -> int:
        return self.epochs_spin.value()

    def seed(self) -> int:
        return self.seed_spin.value()

    def config(self, val_split: float) -> TrainConfig:
        return TrainConfig(
            epochs=self.epochs_spin.value(),
            lr=self.lr.value(),
            batch_size=self.batch.value(),
            weight_decay=self.wd.value(),
            optimizer=self.optimizer.currentData(),
            augment=self.augment.value(),
            balanced=self.balanced.isChecked(),
            patience=self.patience.value(),
            seed=self.seed_spin.value(),
            val_split=val_split,
        )

    def _widgets(self):
        return (
            self.epochs_spin,
            self.lr,
            self.batch,
            self.wd,
            self.optimizer,
            self.augment,
            self.balanced,
            self.patience,
            self.seed_spin,
        )

    def save_settings(self) -> None:
        s = QSettings()
        for key, w in zip(self._KEYS, self._widgets(), strict=True):
            if isinstance(w, QComboBox):
                s.setValue(f"train/{key}", w.currentData())
            elif isinstance(w, QCheckBox):
                s.setValue(f"train/{key}", w.isChecked())
            else:
                s.setValue(f"train/{key}", w.value())

    def restore_settings(self) -> None:
        s = QSettings()
        self._show_advanced(s.value("train/advanced_open", False, type=bool))
        for key, w in zip(self._KEYS, self._widgets(), strict=True):
            if not s.contains(f"train/{key}"):
                continue
            if isinstance(w, QComboBox):
                w.setCurrentIndex(max(0, w.findData(s.value(f"train/{key}", type=str))))
            elif isinstance(w, QCheckBox):
                w.setChecked(s.value(f"train/{key}", False, type=bool))
            elif isinstance(w, QDoubleSpinBox):
                w.setValue(s.value(f"train/{key}", w.value(), type=float))
            else:
                w.setValue(s.value(f"train/{key}", w.value(), type=int))


class TrainControls(QWidget):
    """The Train tab's left column: data, network and options (scrolling when short), then
    Start and Cancel."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.data = DataPanel()
        self.network = NetworkPanel()
        self.options = OptionsPanel()
        self.notice = QLabel(wordWrap=True, visible=False)  # why training cannot start here
        self.notice.setObjectName("hint")
        self.start_button = QPushButton("Start training")
        self.start_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel")
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button, 2)
        buttons.addWidget(self.cancel_button, 1)
        controls = QWidget()
        col = QVBoxLayout(controls)
        col.setContentsMargins(0, 0, 4, 0)
        col.addWidget(self.data, 1)
        col.addWidget(self.network)
        col.addWidget(self.options)
        scroll = QScrollArea()
        scroll.setWidget(controls)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setMinimumWidth(controls.minimumSizeHint().width())
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(scroll, 1)
        lay.addWidget(self.notice)
        lay.addLayout(buttons)
