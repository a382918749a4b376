"""The side panes the person chooses to see: Classify > Show details / evaluation / timing,
each remembered in the settings. A pane closed here stays closed; with every pane closed the
side column hides and the grid takes its width."""

from __future__ import annotations

from PySide6.QtCore import QSettings
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QWidget

from ..widgets.actions import make_action
from ..widgets.side_panes import SidePanes

# pane title -> (menu text, settings key)
PANES = {
    "Details": ("Show &details", "classify/show_details"),
    "Evaluation": ("Show &evaluation", "classify/show_evaluation"),
    "Timing": ("Show &timing", "classify/show_timing"),
}


class PaneActions:
    """One checkable action per side pane, restored from and saved to the settings."""

    def __init__(self, host: QWidget, panes: SidePanes) -> None:
        self.panes = panes
        self.actions: dict[str, QAction] = {}
        for title, (text, key) in PANES.items():
            action = make_action(host, text, lambda t=title: self.toggle(t))
            action.setCheckable(True)
            shown = QSettings().value(key, True, type=bool)
            action.setChecked(shown)
            panes.set_pane_closed(title, not shown)
            self.actions[title] = action

    def toggle(self, title: str) -> None:
        """Show or hide the pane as its action says (remembered); hidden, it is not redrawn."""
        shown = self.actions[title].isChecked()
        self.panes.set_pane_closed(title, not shown)
        QSettings().setValue(PANES[title][1], shown)
