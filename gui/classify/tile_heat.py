"""Overlay mode on the grid's tiles: each tile lays the heat map its run kept (for the label it
shows) over its thumbnail. A button in the filter bar and Shift+H switch it; the tiles draw it
(gui.widgets.tiles), so only the tiles in view are coloured, once each, and cached."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QWidget

from ..widgets.actions import make_action
from .layout import ClassifyLayout
from .results_model import ResultsModel

NO_MAPS = (
    "No heat maps were kept with these results: this model's maps are made one at a time "
    "(Grad-CAM), or the run kept none. Open the preview (Space) and press H."
)


class TileHeatToggle(QObject):
    """The "Heat maps" action (checkable, Shift+H) and the filter bar's button showing it."""

    def __init__(
        self,
        host: QWidget,
        ui: ClassifyLayout,
        results: ResultsModel,
        notify: Callable[..., None],
    ) -> None:
        super().__init__(host)
        self.ui, self.results, self.notify = ui, results, notify
        self.action = make_action(
            host, "&Heat maps on the tiles", self._apply, QKeySequence("Shift+H")
        )
        self.action.setCheckable(True)
        self.action.setToolTip(
            "Lay each tile's heat map over its picture: where the network looked (Shift+H)"
        )
        ui.filters.heat_button.setDefaultAction(self.action)
        self.action.setIconText("Heat maps")  # the button's text: the bar has little room
        ui.model_panel.model_loaded.connect(lambda _loaded: self._apply(quiet=True))

    @property
    def on(self) -> bool:
        return self.action.isChecked()

    def _apply(self, quiet: bool = False) -> None:
        """Give the tiles the loaded model's preprocessing (overlay on) or None (off), and
        repaint; say so when no result has a kept map to show."""
        loaded = self.ui.model_panel.loaded
        delegate = self.ui.grid.delegate
        delegate.heat_spec = loaded.transform if self.on and loaded is not None else None
        self.ui.grid.viewport().update()
        rows = self.results.rows
        if self.on and not quiet and rows and all(r.pred.maps is None for r in rows):
            self.notify(NO_MAPS)
