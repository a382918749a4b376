"""The Classify tab's widgets and their arrangement: model and filters on the left, the grid
(or the drop hint) in the middle with the run's progress above it, details and timing on the
right. :class:`ClassifyLayout` builds and owns them; the tab wires them up."""

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
from ..widgets.status_label import StatusLabel
from ..widgets.thumbnail_view import MAX_TILE, MIN_TILE, ThumbnailView
from ..widgets.thumbnails import ThumbnailCache, ThumbnailLoader
from .filter_panel import FilterPanel
from .results_filter import ResultsView


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
        scroll.setMinimumWidth(220)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

        self.add_folder_button = QPushButton("Add folder…")
        self.add_files_button = QPushButton("Add images…")
        self.progress = QProgressBar(textVisible=False)
        self.progress.setMaximumHeight(8)
        self.run_status = StatusLabel("")
        self.run_status.setObjectName("runStatus")
        self.cancel_button = QPushButton("Cancel", enabled=False)
        top = QHBoxLayout()
        top.addWidget(self.add_folder_button)
        top.addWidget(self.add_files_button)
        status_box = QVBoxLayout()
        status_box.setSpacing(3)
        status_box.addWidget(self.run_status)
        status_box.addWidget(self.progress)
        top.addLayout(status_box, 1)
        top.addWidget(self.cancel_button)

        self.banner = QLabel(visible=False, wordWrap=True, objectName="banner")
        self.banner_close = QToolButton(text="✕", visible=False, autoRaise=True)
        banner_row = QHBoxLayout()
        banner_row.addWidget(self.banner, 1)
        banner_row.addWidget(self.banner_close)

        self.grid = ThumbnailView(cache, loader)
        self.grid.set_results(view_model)
        self.drop_zone = DropZone(self.grid)

        self.export_button = QPushButton("Export…", enabled=False)
        self.sort_button = QPushButton("Sort into folders…", enabled=False)
        self.undo_button = QPushButton("Undo move", enabled=False)
        self.tile_slider = QSlider(Qt.Orientation.Horizontal, minimum=MIN_TILE, maximum=MAX_TILE)
        self.tile_slider.setFixedWidth(110)
        self.tile_slider.setToolTip("Tile size")
        bottom = QHBoxLayout()
        for b in (self.export_button, self.sort_button, self.undo_button):
            bottom.addWidget(b)
        bottom.addStretch(1)
        bottom.addWidget(QLabel("Size"))
        bottom.addWidget(self.tile_slider)

        center = QWidget()
        # Explicit minimums (smaller than the rows of buttons want) keep small windows possible.
        center.setMinimumSize(260, 200)
        c = QVBoxLayout(center)
        c.setContentsMargins(4, 8, 4, 4)
        c.addLayout(top)
        c.addLayout(banner_row)
        c.addWidget(self.drop_zone, 1)
        c.addLayout(bottom)

        self.detail = DetailPane(cache)
        self.timing = TimingPanel()
        right = QSplitter(Qt.Orientation.Vertical)
        for title, w in (("Details", self.detail), ("Timing", self.timing)):
            box = QWidget()
            lay = QVBoxLayout(box)
            lay.setContentsMargins(4, 8, 4, 4)
            heading = QLabel(title, objectName="heading")
            lay.addWidget(heading)
            lay.addWidget(w, 1)
            right.addWidget(box)
        right.setStretchFactor(0, 2)
        right.setStretchFactor(1, 3)
        right.setMinimumSize(180, 200)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(scroll)
        self.splitter.addWidget(center)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([310, 680, 300])
        lay = QHBoxLayout(host)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.splitter)
        self.drop_zone.show_hint()
        for b in (self.add_folder_button, self.add_files_button):  # the hint has its own
            b.setVisible(False)
        host.setStyleSheet(style_sheet())
