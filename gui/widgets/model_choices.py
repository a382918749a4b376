"""What the person chose for one model, and only for that model: a class-names file and a
preprocessing preset. Names and preprocessing belong to a model, never to the window, so each
choice is remembered under the model it was made for (a checkpoint's path, or an architecture's
ImageNet weights) and is never carried over to another one.

:class:`ModelChoices` keeps them in the settings; :class:`PreprocessingPicker` is the Model
panel's Preprocessing row (Automatic, then the presets, with the details in words)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtWidgets import QComboBox, QFormLayout, QLabel

log = logging.getLogger(__name__)

SETTINGS_KEY = "model/choices"
MAX_REMEMBERED = 50  # models whose choices are kept (the most recently loaded)
AUTOMATIC_DETAILS = (
    "What the checkpoint (or a file beside it) states, or a convention it is recognised by; "
    "else ImageNet's recipe, said to be assumed."
)


def imagenet_key(arch: str) -> str:
    """The key of an architecture's ImageNet weights (a checkpoint's key is its path)."""
    return f"imagenet:{arch}"


def names_question(loaded, names_file: str) -> str:
    """The question before a names file replaces the names the checkpoint ``loaded`` stores."""
    shown = lambda xs: ", ".join(xs[:4]) + (", …" if len(xs) > 4 else "")  # noqa: E731
    name = Path(names_file).name
    return (
        f"{name} names the classes {shown(loaded.class_names)}, but "
        f"{Path(loaded.source).name} stores its own names: {shown(loaded.own_class_names)}.\n\n"
        f"Use the names from {name}? (No: the checkpoint's own names.)"
    )


@dataclass(frozen=True, slots=True)
class Choice:
    """A class-names file ("" for none) and a preprocessing preset (None: Automatic)."""

    classes: str = ""
    preprocess: str | None = None


class ModelChoices:
    """The choices per model, in the settings (a JSON map: model key -> choice)."""

    @staticmethod
    def _all() -> dict[str, dict]:
        raw = QSettings().value(SETTINGS_KEY, "", type=str)
        if not raw:
            return {}
        try:
            value = json.loads(raw)
        except ValueError:
            log.warning("unreadable %s in the settings; starting afresh", SETTINGS_KEY)
            return {}
        return value if isinstance(value, dict) else {}

    @classmethod
    def get(cls, key: str) -> Choice:
        entry = cls._all().get(key) or {}
        preset = entry.get("preprocess") or None
        return Choice(str(entry.get("classes") or ""), str(preset) if preset else None)

    @classmethod
    def put(cls, key: str, choice: Choice) -> None:
        """Remember ``choice`` for ``key`` (nothing is kept for a model with no choices)."""
        entries = cls._all()
        entries.pop(key, None)
        if choice != Choice():
            entries[key] = {"classes": choice.classes, "preprocess": choice.preprocess}
        kept = dict(list(entries.items())[-MAX_REMEMBERED:])
        QSettings().setValue(SETTINGS_KEY, json.dumps(kept))

    @classmethod
    def forget(cls, key: str) -> None:
        cls.put(key, Choice())


class PreprocessingPicker(QObject):
    """Automatic (what the model states or is recognised by) or one of core's presets, with
    what a preset does in words underneath (:meth:`add_rows` puts both in a form: the words
    in a row of their own, the full width, which QFormLayout sizes right for wrapped text).
    ``chosen`` is emitted when the person picks."""

    chosen = Signal(object)  # the preset's name, or None for Automatic

    def __init__(self, parent=None):
        from ...core.models.transforms import list_presets

        super().__init__(parent)
        self.combo = QComboBox()
        self.combo.addItem("Automatic", None)
        self._details = {None: AUTOMATIC_DETAILS}
        for preset in list_presets():
            self.combo.addItem(preset.name, preset.name)
            self._details[preset.name] = preset.description[:1].upper() + preset.description[1:]
        self.combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.combo.setMinimumContentsLength(14)
        self.details = QLabel(wordWrap=True, objectName="hint")
        self.combo.currentIndexChanged.connect(self._show_details)
        self.combo.activated.connect(lambda _row: self.chosen.emit(self.preset()))
        self._show_details()

    def add_rows(self, form: QFormLayout) -> None:
        form.addRow("Preprocessing", self.combo)
        form.addRow(self.details)

    def preset(self) -> str | None:
        """The preset chosen, or None for Automatic."""
        return self.combo.currentData() or None

    def set_preset(self, name: str | None) -> None:
        """Show ``name`` (an unknown name, say from older settings, shows Automatic)."""
        self.combo.setCurrentIndex(max(0, self.combo.findData(name)) if name else 0)

    def override(self):
        """The choice as core's PreprocessingOverride (None for Automatic)."""
        from ...core.models.transforms import PreprocessingOverride

        name = self.preset()
        return PreprocessingOverride(preset=name) if name else None

    def _show_details(self, *_args) -> None:
        """A preset's recipe in words under the list; Automatic's meaning in its tooltip only
        (the model summary says what Automatic found)."""
        text = self._details.get(self.preset(), "")
        self.details.setText(text)
        self.details.setVisible(self.preset() is not None)
        name = self.preset()
        self.combo.setToolTip(f"{name}: {text}" if name else text)  # a long name is elided
