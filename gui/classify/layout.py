"""The Classify tab's widgets and their arrangement: model and filters on the left, the grid
(or the start page) in the middle with the run's progress above it, details and timing on the
right (one above the other, or as tabs on a laptop screen). :class:`ClassifyLayout` builds
and owns them, and shares the width out as the window changes size (:meth:`fit`); the tab
wires them up. The run's status line is shown by the main window's status bar."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSlider,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from .. import style_sheet
from ..widgets.drop_zone import DropZone
from ..widgets.model_panel import ModelPanel
from ..widgets.plots import TimingPanel
from ..widgets.preview import DetailPane
from ..widgets.side_panes import SidePanes
from ..widgets.status_label import StatusLabel
from ..widgets.thumbnail_view import MAX_TILE, MIN_TILE, ThumbnailView
from ..widgets.thumbnails import ThumbnailCache, ThumbnailLoader
from .evaluation_view import PANE as EVALUATION_PANE
from .evaluation_view import EvaluationPanel
from .filter_panel import FilterPanel
from .results_filter import ResultsView
from .stale import StaleBar


class ClassifyLayout:
    """Builds the Classify tab's widgets into ``host`` and keeps them as attributes: the model
    panel and filters, the run's buttons, status and progress, the message banner, the grid in
    its drop zone, the output buttons and tile slider, the detail and timing panes."""

    def __init__(
        self,
        host: QWidget,
        view_model: ResultsView,
        cache: ThumbnailCache,
        loader: ThumbnailLoader,
    ) -> None:
        self.model_panel = ModelPanel()
        self.filters = FilterPanel()
        left = QWidget()
        left_lay = QVBoxLayout(left)
        left_lay.addWidget(self.model_panel)
        left_lay.addWidget(self.filters)
        left_lay.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(left)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        # Never narrower than its content at the sizes the layout is made for (fit()); in a
        # window narrower still, it scrolls rather than cut its text.
        scroll.setMinimumWidth(200)
        self.left, self.left_content = scroll, left

        self.add_folder_button = QPushButton("Add folder…")
        self.add_files_button = QPushButton("Add images…")
        self.progress = QProgressBar(textVisible=False)
        self.progress.setMaximumHeight(8)
        # What the run is doing: the main window's status bar shows it (hidden here, so the
        # line is said once, and in the full width of the window).
        self.run_status = StatusLabel("", visible=False)
        self.run_status.setObjectName("runStatus")
        self.cancel_button = QPushButton("Cancel", enabled=False)
        top = QHBoxLayout()
        top.addWidget(self.add_folder_button)
        top.addWidget(self.add_files_button)
        top.addWidget(self.progress, 1)
        top.addWidget(self.cancel_button)

        self.banner = QLabel(visible=False, wordWrap=True, objectName="banner")
        self.banner_close = QToolButton(text="✕", visible=False, autoRaise=True)
        banner_row = QHBoxLayout()
        banner_row.addWidget(self.banner, 1)
        banner_row.addWidget(self.banner_close)
        self.stale_bar = StaleBar()  # results from another model: classify again

        self.grid = ThumbnailView(cache, loader)
        self.grid.set_results(view_model)
        self.drop_zone = DropZone(self.grid)

        self.export_button = QPushButton("Export…", enabled=False)
        self.sort_button = QPushButton("Sort into folders…", enabled=False)
        self.undo_button = QPushButton("Undo move", enabled=False)
        self.tile_slider = QSlider(Qt.Orientation.Horizontal, minimum=MIN_TILE, maximum=MAX_TILE)
        self.tile_slider.setMinimumWidth(60)
        self.tile_slider.setMaximumWidth(140)
        self.tile_slider.setToolTip("Tile size")
        bottom = QHBoxLayout()
        for b in (self.export_button, self.sort_button, self.undo_button):
            bottom.addWidget(b)
        bottom.addStretch(1)
        bottom.addWidget(QLabel("Size"))
        bottom.addWidget(self.tile_slider)

        center = QWidget()  # its minimum is its rows of buttons: their text is never cut
        c = QVBoxLayout(center)
        c.setContentsMargins(4, 8, 4, 4)
        c.addLayout(top)
        c.addLayout(banner_row)
        c.addWidget(self.stale_bar)
        c.addWidget(self.drop_zone, 1)
        c.addLayout(bottom)

        self.detail = DetailPane(cache)
        self.evaluation = EvaluationPanel()  # shown when folders are named like the classes
        self.timing = TimingPanel()
        self.side = SidePanes(
            [("Details", self.detail), (EVALUATION_PANE, self.evaluation), ("Timing", self.timing)]
        )

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setChildrenCollapsible(False)
        for w in (scroll, center, self.side):
            self.splitter.addWidget(w)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.splitterMoved.connect(self._moved_by_hand)
        self._by_hand = False
        self.fit(1280)
        lay = QHBoxLayout(host)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.splitter)
        self.drop_zone.show_hint()
        for b in (self.add_folder_button, self.add_files_button):  # the hint has its own
            b.setVisible(False)
        host.setStyleSheet(style_sheet())

    def fit(self, width: int) -> None:
        """Share ``width`` out: the side panels take about a fifth each (within their
        bounds), the grid the rest; until the person moves a divider themselves."""
        if self._by_hand:
            return
        # its content and the scroll bar beside it (else a horizontal scroll bar shows too)
        bar = self.left.verticalScrollBar().sizeHint().width()
        content = self.left_content.minimumSizeHint().width() + bar + 4
        left = max(content, min(330, width // 5))
        right = max(self.side.minimumSizeHint().width(), min(380, width // 5))
        self.splitter.setSizes([left, max(0, width - left - right), right])

    def _moved_by_hand(self, *_args) -> None:
        self._by_hand = True
