"""The questions the Classify tab asks the person, as dialogs: which label, where to export
and which results, how to sort into folders, what to do with a new drop while a run goes.
The tab asks through its ``_ask*`` and ``_choose_new_run`` hooks, which tests replace."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from ..widgets.label_picker import LabelPicker
from .sort_dialog import ALL, SELECTED, SHOWN, SortDialog, SortOptions

REPLACE, QUEUE = "replace", "queue"


def ask_label(parent: QWidget, current: str, choices: list[str], count: int = 1) -> str | None:
    """The label for the ``count`` selected images, picked from the known ones (a new class
    only through the picker's explicit "New class…"); None if cancelled."""
    picker = LabelPicker(choices, current, count=count, parent=parent)
    return picker.chosen() if picker.exec() else None


def ask_export_scope(parent: QWidget, counts: dict[str, int]) -> str | None:
    """Which results to export, when a filter or a selection makes the question worth
    asking; None if cancelled."""
    box = QMessageBox(QMessageBox.Icon.Question, "Export results", "Which results?", parent=parent)
    buttons = {}
    for scope, text in (
        (ALL, "All {:,}"),
        (SHOWN, "The {:,} shown"),
        (SELECTED, "The {:,} selected"),
    ):
        if scope == ALL or 0 < counts.get(scope, 0) != counts.get(ALL, 0):
            buttons[
                box.addButton(text.format(counts[scope]), QMessageBox.ButtonRole.AcceptRole)
            ] = scope
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.exec()
    return buttons.get(box.clickedButton())


def ask_save_path(parent: QWidget) -> str | None:
    """Where to export the results (CSV or JSON); None if cancelled."""
    folder = QSettings().value("classify/last_folder", "", type=str)
    default = str(Path(folder) / "results.csv") if folder else "results.csv"
    start = QSettings().value("classify/export_path", default, type=str)
    path, chosen = QFileDialog.getSaveFileName(
        parent, "Export results", start, "CSV (*.csv);;JSON (*.json)"
    )
    if path and not Path(path).suffix:
        path += ".json" if "json" in chosen.lower() else ".csv"
    return path or None


def ask_sort_options(parent: QWidget, counts: dict[str, int]) -> SortOptions | None:
    """How to sort into folders (``counts``: images per scope); None if cancelled."""
    dialog = SortDialog(counts, parent)
    return dialog.options() if dialog.exec() else None


def ask_new_run(parent: QWidget) -> str | None:
    """A run is going and more images come: REPLACE it, QUEUE them after it, or None."""
    box = QMessageBox(
        QMessageBox.Icon.Question, "Pigeonhole", "A run is still going.", parent=parent
    )
    box.setInformativeText("Stop it and classify the new images, or add them after it?")
    stop = box.addButton("Stop and start new", QMessageBox.ButtonRole.AcceptRole)
    queue = box.addButton("Add after this run", QMessageBox.ButtonRole.ActionRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.exec()
    return (
        REPLACE if box.clickedButton() is stop else QUEUE if box.clickedButton() is queue else None
    )
