"""The Model panel: network, weights (ImageNet or a checkpoint), class names and preprocessing
(both chosen for one model: :mod:`.model_choices`), how it runs (:mod:`.run_options`) and the
summary of the model in use (:mod:`.model_summary`). Loading runs off the UI thread; a failed
load leaves the previous model in use, and every field showing it."""

from __future__ import annotations

import logging
import sys
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QSettings, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QToolButton,
    QVBoxLayout,
)

from ...core.models.archs import list_archs
from ...core.models.files import CHECKPOINT_SUFFIXES, file_filter
from ...core.models.imagenet import imagenet_weights_cached
from ...core.runtime.options import RunOptions
from .arch_picker import ArchPicker, arch_details
from .checkpoint_box import CheckpointBox
from .elided import PathEdit
from .model_choices import (
    Choice,
    ModelChoices,
    PreprocessingPicker,
    imagenet_key,
    names_question,
)
from .model_loading import LoadRequest, NeedsTrust, load_task
from .model_summary import ModelSummary
from .run_options import RunOptionsForm, compact
from .torch_support import LOADING, TorchFactsLoader, needs_full_install
from .weights_box import CHECKPOINT, IMAGENET, WeightsBox
from .workers import WorkerSlot

log = logging.getLogger(__name__)


class ModelPanel(QGroupBox):
    model_loaded = Signal(object)  # core.models.loaded.LoadedModel
    load_failed = Signal(str)
    loading_changed = Signal(bool)

    def __init__(self, parent=None):
        super().__init__("Model", parent)
        self.loaded = None  # the LoadedModel in use
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
        self._active: LoadRequest | None = None  # what the model in use was loaded as
        self._choice_key: str | None = None  # the model the Classes/Preprocessing rows are for
        self.loading_text = ""  # "Loading colours.pth…" while a model loads
        self.torch_facts = TorchFactsLoader(self)  # the GPUs, and whether torch works (needs torch)
        self._build()
        self.restore_settings()
        if self.torch_facts.facts is not None:
            self._use_torch_facts(self.torch_facts.facts)
        self.torch_facts.ready.connect(self._use_torch_facts)
        self.torch_facts.loading_started.connect(self._show_torch_loading)

    # -- construction ------------------------------------------------------------------------
    def _build(self) -> None:
        self.arch = ArchPicker(specs=list_archs())  # (the registry reads without torch)
        self.arch_info = QLabel(objectName="hint", wordWrap=True)
        self.weights = WeightsBox()
        self.checkpoint = CheckpointBox()
        self.browse = QToolButton(text="…", toolTip="Choose a checkpoint file")
        self.classes = PathEdit(placeholderText="from the checkpoint")
        self.classes.setToolTip("A names file for this checkpoint only (one name per line)")
        self.classes_browse = QToolButton(
            text="…", toolTip="A text file with one class name per line"
        )
        self.preprocessing = PreprocessingPicker(self)
        self.options = RunOptionsForm(self)
        o = self.options
        self.device, self.engine, self.precision = o.device, o.engine, o.precision
        self.decode, self.batch = o.decode, o.batch
        for combo in (self.arch, self.weights):
            compact(combo)
        self.load_button = QPushButton("Load model")
        self.load_button.setDefault(True)
        self.progress = QProgressBar(visible=False, textVisible=True)
        self.status = ModelSummary()

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Network", self.arch)
        form.addRow(self.arch_info)  # the full width: QFormLayout underestimates a wrapped field
        form.addRow("Weights", self.weights)
        self.checkpoint_label = QLabel("File")
        form.addRow(self.checkpoint_label, _row(self.checkpoint, self.browse))
        self.classes_label = QLabel("Classes")
        form.addRow(self.classes_label, _row(self.classes, self.classes_browse))
        self.preprocessing.add_rows(form)
        self.options.add_rows(form)
        lay = QVBoxLayout(self)
        margins = lay.contentsMargins()  # narrow at the sides: the column has ~280 px at 1024
        lay.setContentsMargins(5, margins.top(), 5, margins.bottom())
        lay.addLayout(form)
        lay.addWidget(self.load_button)
        lay.addWidget(self.progress)
        lay.addWidget(self.status)

        self.arch.arch_changed.connect(self._on_arch)
        self.weights.currentIndexChanged.connect(self._on_weights_mode)
        self.browse.clicked.connect(self.choose_checkpoint)
        self.checkpoint.editTextChanged.connect(self._key_changed)
        self.classes_browse.clicked.connect(self._choose_classes)
        self.preprocessing.chosen.connect(self._on_preprocessing_chosen)
        self.load_button.clicked.connect(lambda: self.request_load())
        self._on_arch(self.arch.current_arch())
        self._shown_arch = self.arch.current_arch()  # the network the panel put in the box

    def _on_arch(self, name: str) -> None:
        spec = self.arch.spec(name)
        if spec is None:
            return
        self.arch_info.setText(arch_details(spec))
        downloaded = imagenet_weights_cached(spec.name)
        self.weights.show_for(spec, downloaded, bool(self.torch_facts.missing))
        self._on_weights_mode()

    def _on_weights_mode(self, *_args) -> None:
        is_file = self.weights_mode() == CHECKPOINT
        for w in (self.checkpoint, self.browse, self.classes, self.classes_browse):
            w.setEnabled(is_file)
        self._key_changed()

    # -- values ------------------------------------------------------------------------------
    def weights_mode(self) -> str:
        return self.weights.mode()

    def set_weights_mode(self, mode: str) -> None:
        self.weights.set_mode(mode)

    def checkpoint_path(self) -> str:
        return self.checkpoint.path()

    def set_checkpoint_path(self, path: str) -> None:
        self.set_weights_mode(CHECKPOINT)
        self.checkpoint.setEditText(str(path))

    def model_key(self) -> str:
        """The model the fields describe: the checkpoint's path, or the architecture's
        ImageNet weights ("" when no checkpoint is chosen)."""
        if self.weights_mode() == CHECKPOINT:
            return self.checkpoint_path()
        return imagenet_key(self.arch.current_arch())

    def run_options(self) -> RunOptions:
        """How runs of this panel's model go (the Device...Batch size rows)."""
        return self.options.values()

    @property
    def busy(self) -> bool:
        """A model is loading (a newer request replaces an older one)."""
        return self.loading.busy

    # -- torch -------------------------------------------------------------------------------
    def load_in_background(self) -> None:
        """Once the window shows: where a GPU is likely, import torch on a worker to list it
        (elsewhere torch waits until something needs it)."""
        self.torch_facts.load_if_gpu_likely()

    def _show_torch_loading(self) -> None:
        """A worker imports torch (for the GPUs, or the Train tab): say so meanwhile."""
        self.options.show_loading(True)
        if not self.busy and self.loaded is None:
            self.status.show_text(LOADING)

    def _use_torch_facts(self, facts) -> None:
        """What torch tells (gui.widgets.torch_support.TorchFacts): the devices; without
        torch, what needs the full install says so."""
        self.options.set_devices(facts)
        self._on_arch(self.arch.current_arch())  # ImageNet weights need torch to load
        self.options.show_loading(False)
        if self.status.text() == LOADING:
            self.status.show_text("No model loaded.")

    # -- choices tied to one model -----------------------------------------------------------
    def _key_changed(self, *_args) -> None:
        """Another model in the fields: its own Classes and Preprocessing choices (those
        remembered for it, else none), never the previous model's."""
        key = self.model_key()
        if key == self._choice_key:
            return
        self._choice_key = key
        choice = ModelChoices.get(key) if key else Choice()
        self.classes.setText(choice.classes)
        self.preprocessing.set_preset(choice.preprocess)

    def forget_choices(self, path: str) -> None:
        """Nothing chosen for the checkpoint at ``path`` applies any more (a new model was
        just written there): its own names, the preprocessing it states."""
        ModelChoices.forget(str(path))
        if self.model_key() == str(path):
            self.classes.clear()
            self.preprocessing.set_preset(None)

    # -- choosing files ----------------------------------------------------------------------
    def choose_checkpoint(self) -> None:
        start = str(Path(self.checkpoint_path()).parent) if self.checkpoint_path() else ""
        path, _ = QFileDialog.getOpenFileName(
            self, "Choose a checkpoint", start, file_filter(CHECKPOINT_SUFFIXES, "Checkpoints")
        )
        if path:
            self.set_checkpoint_path(path)
            self.request_load()

    def _choose_classes(self) -> None:
        start = str(Path(self.checkpoint_path()).parent) if self.checkpoint_path() else ""
        path, _ = QFileDialog.getOpenFileName(
            self, "Class names", start, "Text files (*.txt);;All files (*)"
        )
        if path:
            self.classes.setText(path)
            if self.checkpoint_path():
                self.request_load()

    def _on_preprocessing_chosen(self, _name) -> None:
        """A preset picked: load the model shown with it (never a first ImageNet download)."""
        active = self._active.key if self._active else None
        if self.model_key() and (self.weights_mode() == CHECKPOINT or active == self.model_key()):
            self.request_load()

    # -- loading -----------------------------------------------------------------------------
    def network_hint(self, keep: bool = False) -> str | None:
        """The Network box as the hint for a checkpoint's architecture: only when the person
        chose it (it is not what the panel last put there: the model in use, or the one
        remembered), or with ``keep``. Otherwise the weights decide, and no note says they are
        "not" a network nobody picked."""
        current = self.arch.current_arch()
        return current if keep or current != self._shown_arch else None

    def request_load(self, trust: bool = False, keep_hint: bool = False) -> bool:
        """Load what the panel shows. False (with a message) when there is nothing to load.
        ``keep_hint``: the Network box is this checkpoint's (the last session's model)."""
        run = self.run_options()
        preprocess = self.preprocessing.preset()
        if self.weights_mode() == IMAGENET and self.torch_facts.missing:
            self.status.show_text(needs_full_install("ImageNet weights"), error=True)
            return False
        if self.weights_mode() == CHECKPOINT:
            path = self.checkpoint_path()
            if not path:
                self.status.show_text(
                    "Choose a checkpoint file first (or ImageNet weights).", error=True
                )
                return False
            classes = self.classes.text().strip() or None
            hint = self.network_hint(keep_hint)
            req = LoadRequest(hint, path, classes, trust, preprocess, run)
        else:
            req = LoadRequest(self.arch.current_arch(), None, None, False, preprocess, run)
        self.start_load(req)
        return True

    def start_load(self, req: LoadRequest) -> None:
        """Load ``req`` off the GUI thread; a load still going is replaced (its result dropped)."""
        self._request = req
        self.loading.start(load_task, req)
        what = Path(req.checkpoint).name if req.checkpoint else f"{req.arch} ImageNet weights"
        self.loading_text = f"Loading {what}…"
        if req.needs_torch and "torch" not in sys.modules:  # the loader imports it first
            self.loading_text = f"{LOADING.removesuffix('…')} and {what}…"
        self.status.show_text(self.loading_text)
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
                self.start_load(replace(req, trust=True))
            else:
                self._on_failed("Not loaded: the checkpoint needs code you did not trust.")
            return
        if result is None:
            return
        # A names file replacing the checkpoint's own names needs the person's yes (a scripted
        # run's --classes is that yes, as on the command line, and the warning shows).
        if result.overrides_own_names and not self.unattended:
            if self.ask is None or not self.ask(names_question(result, req.classes or "")):
                result.use_own_class_names()
            if self._request is not req:
                return  # another load was asked for while the question was open: it wins
            if not result.overrides_own_names:
                req = replace(req, classes=None)
        self.loaded = result
        self.torch_facts.read_if_imported()  # a model loaded with torch: the GPUs are known now
        self._active = replace(req, arch=result.arch)
        self._show_fields(self._active)
        self.status.show_model(result)
        self._remember(self._active)
        self.model_loaded.emit(result)

    def _show_fields(self, req: LoadRequest) -> None:
        """Every field as ``req`` (the model in use) has it."""
        self.arch.blockSignals(True)
        self.arch.set_arch(req.arch)
        self.arch.blockSignals(False)
        self._shown_arch = self.arch.current_arch()
        self._on_arch(req.arch)
        if req.checkpoint:
            self.set_checkpoint_path(req.checkpoint)
        else:
            self.set_weights_mode(IMAGENET)
        self._choice_key = self.model_key()
        self.classes.setText(req.classes or "")
        self.preprocessing.set_preset(req.preprocess)

    def _on_failed(self, message: str) -> None:
        """Say here only that it failed: ``load_failed`` carries the message to the one place
        the window shows it (the Classify tab's banner), so it is never said twice."""
        self._end_loading()
        if self._active is not None and self.loaded is not None:
            self._show_fields(self._active)
        self.status.show_failure("Not loaded.")
        self.load_failed.emit(message)

    def show_engine(self, line: str, warning: bool = False) -> None:
        """How a run ran the model in use (int8's measured agreement...), in the summary."""
        self.status.show_engine(line, warning)

    def shutdown(self) -> None:
        """Stop loading and wait for the loading threads (window closing)."""
        self.loading.shutdown()
        self.torch_facts.shutdown()

    # -- settings ----------------------------------------------------------------------------
    def _remember(self, req: LoadRequest) -> None:
        s = QSettings()
        s.setValue("model/arch", self.arch.current_arch())
        s.setValue("model/weights", CHECKPOINT if req.checkpoint else IMAGENET)
        ModelChoices.put(req.key, Choice(req.classes or "", req.preprocess))
        if req.checkpoint:
            s.setValue("model/checkpoint", req.checkpoint)
            self.checkpoint.add_recent(req.checkpoint)

    @staticmethod
    def recent() -> list[str]:
        return CheckpointBox.recent()

    def restore_settings(self) -> None:
        s = QSettings()
        s.remove("model/classes")  # a names file not tied to its checkpoint (older versions)
        self.arch.set_arch(s.value("model/arch", "resnet18", type=str))
        self._shown_arch = self.arch.current_arch()
        self.checkpoint.fill()
        self.checkpoint.setEditText(s.value("model/checkpoint", "", type=str))
        self.set_weights_mode(s.value("model/weights", IMAGENET, type=str))
        self._key_changed()
        self.options.restore()

    def autoload(self) -> bool:
        """Load the last model used; the first time, ResNet-18 if its ImageNet weights are cached.
        Returns False when the person has to choose."""
        s = QSettings()
        mode = s.value("model/weights", "", type=str)
        path = self.checkpoint_path()
        if mode == CHECKPOINT and path and Path(path).is_file():
            return self.request_load(keep_hint=True)
        arch = self.arch.current_arch()
        if (
            mode in (IMAGENET, "")
            and not self.torch_facts.missing
            and imagenet_weights_cached(arch)
        ):
            self.set_weights_mode(IMAGENET)
            return self.request_load()
        self.set_weights_mode(CHECKPOINT)
        self.status.show_text("No model loaded.")  # the start page says what to do
        return False


def _row(field, button) -> QHBoxLayout:
    row = QHBoxLayout()
    row.setSpacing(2)  # the button goes with its field
    row.addWidget(field, 1)
    row.addWidget(button)
    return row
