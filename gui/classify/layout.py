"""The Classify tab's widgets and their arrangement. The grid has the room: above it one bar
with the model in use (the Model panel folded to a line once a model is loaded: a click opens
it again, on the left), the buttons that add images and write results; the filter and sort
bar with its count; one line for messages (the banner and the "other model" bar side by side);
details, evaluation and timing on the right (one above the other, or as tabs on a laptop
screen; each can be hidden). The run's progress, Cancel and the tile size sit in the main
window's status bar beside the run's status line (:attr:`ClassifyLayout.status_strip`).
:class:`ClassifyLayout` builds and owns the widgets, and shares the width out as the window
changes size (:meth:`fit`); the tab wires them up."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSlider,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from .. import style_sheet
from ..widgets.drop_zone import DropZone
from ..widgets.model_line import ModelLine
from ..widgets.model_panel import ModelPanel
from ..widgets.plots import TimingPanel
from ..widgets.preview import DetailPane
from ..widgets.side_panes import SidePanes
from ..widgets.status_label import StatusLabel
from ..widgets.thumbnail_view import MAX_TILE, MIN_TILE, ThumbnailView
from ..widgets.thumbnails import ThumbnailCache, ThumbnailLoader
from .banner import BannerLabel
from .evaluation_view import PANE as EVALUATION_PANE
from .evaluation_view import EvaluationPanel
from .filter_panel import FilterPanel
from .results_filter import ResultsView
from .stale import StaleBar

SIDE_SHARE = 0.2  # of the window's width, for the side panes (within their bounds)
SIDE_MAX = 380


class ClassifyLayout:
    """Builds the Classify tab's widgets into ``host`` and keeps them as attributes: the model
    panel (and its folded line), the buttons, the filters, the message line, the grid in its
    drop zone, the detail, evaluation and timing panes, and the status strip (progress,
    Cancel, tile size) for the main window's status bar."""

    def __init__(
        self,
        host: QWidget,
        view_model: ResultsView,
        cache: ThumbnailCache,
        loader: ThumbnailLoader,
    ) -> None:
        self._build_model_column()
        top = self._build_top_bar()
        messages = self._build_message_line()
        self._build_grid(view_model, cache, loader)
        self._build_status_strip()
        self._build_side(cache)

        center = QWidget()  # its minimum is its rows of buttons: their text is never cut
        c = QVBoxLayout(center)
        c.setContentsMargins(4, 2, 2, 0)
        c.setSpacing(4)
        c.addLayout(top)
        c.addWidget(self.filters)
        c.addWidget(messages)
        c.addWidget(self.drop_zone, 1)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setChildrenCollapsible(False)
        for w in (self.left, center, self.side):
            self.splitter.addWidget(w)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.splitterMoved.connect(self._moved_by_hand)
        self._by_hand = False
        self._width = 1280
        self.fit(self._width)
        lay = QHBoxLayout(host)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(self.splitter)
        self.drop_zone.show_hint()
        host.setStyleSheet(style_sheet())
        self.status_strip.setStyleSheet(style_sheet())

    def _build_model_column(self) -> None:
        """The Model panel, in a column that scrolls rather than cut its text; folded away
        once a model is loaded (:meth:`fold_model`)."""
        self.model_panel = ModelPanel()
        left = QWidget()
        left_lay = QVBoxLayout(left)
        left_lay.setContentsMargins(0, 0, 0, 0)
        left_lay.addWidget(self.model_panel)
        left_lay.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(left)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        # Never narrower than its content at the sizes the layout is made for (fit()); in a
        # window narrower still, it scrolls rather than cut its text.
        scroll.setMinimumWidth(200)
        self.left, self.left_content = scroll, left
        self.model_line = ModelLine()
        self.model_line.setChecked(True)  # open until a model is loaded
        self.model_open_by_hand = False
        self.model_line.clicked.connect(self._model_line_clicked)

    def _build_top_bar(self) -> QHBoxLayout:
        """The model in use; adding images; writing the results out."""
        # (hidden while the start page shows: it has its own; shown by the first run)
        self.add_folder_button = QPushButton("Add folder…", visible=False)
        self.add_files_button = QPushButton("Add images…", visible=False)
        self.export_button = QPushButton("Export…", enabled=False)
        self.sort_button = QPushButton("Sort into folders…", enabled=False)
        self.undo_button = QPushButton("Undo move", enabled=False, visible=False)
        top = QHBoxLayout()
        top.setSpacing(4)
        top.addWidget(self.model_line, 1)
        for b in (
            self.add_folder_button,
            self.add_files_button,
            self.export_button,
            self.sort_button,
            self.undo_button,
        ):
            top.addWidget(b)
        return top

    def _build_message_line(self) -> QWidget:
        """The banner (with its close button) and the "other model" bar, side by side: two
        messages take one line above the grid, not two."""
        self.banner = BannerLabel(visible=False, objectName="banner")  # two lines at most
        self.banner_close = QToolButton(text="✕", visible=False, autoRaise=True)
        self.banner_action = QPushButton(visible=False)  # what the message offers ("Undo")
        self.stale_bar = StaleBar()  # results from another model: classify again
        line = QWidget()
        row = QHBoxLayout(line)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(4)
        row.addWidget(self.banner, 1)
        row.addWidget(self.banner_action)
        row.addWidget(self.banner_close)
        row.addWidget(self.stale_bar)  # as wide as its text: the banner takes the rest
        return line

    def _build_grid(
        self, view_model: ResultsView, cache: ThumbnailCache, loader: ThumbnailLoader
    ) -> None:
        self.filters = FilterPanel()
        self.grid = ThumbnailView(cache, loader)
        self.grid.set_results(view_model)
        self.drop_zone = DropZone(self.grid)

    def _build_status_strip(self) -> None:
        """What the main window's status bar shows right of the run's status line while this
        tab is in front: the progress and Cancel (while something runs), the tile size."""
        self.progress = QProgressBar(textVisible=False, visible=False)
        self.progress.setFixedSize(120, 8)
        # What the run is doing: the main window's status bar shows it (hidden here, so the
        # line is said once, and in the full width of the window).
        self.run_status = StatusLabel("", visible=False)
        self.run_status.setObjectName("runStatus")
        self.cancel_button = QPushButton("Cancel", enabled=False, visible=False)
        self.tile_slider = QSlider(Qt.Orientation.Horizontal, minimum=MIN_TILE, maximum=MAX_TILE)
        self.tile_slider.setFixedWidth(90)
        self.tile_slider.setToolTip("Tile size")
        self.status_strip = QWidget()
        self.status_strip.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Preferred)
        strip = QHBoxLayout(self.status_strip)
        strip.setContentsMargins(0, 0, 4, 0)
        strip.addWidget(self.progress)
        strip.addWidget(self.cancel_button)
        strip.addSpacing(8)
        strip.addWidget(QLabel("Size"))
        strip.addWidget(self.tile_slider)

    def _build_side(self, cache: ThumbnailCache) -> None:
        self.detail = DetailPane(cache)
        self.evaluation = EvaluationPanel()  # shown when folders are named like the classes
        self.timing = TimingPanel()
        self.side = SidePanes(
            [("Details", self.detail), (EVALUATION_PANE, self.evaluation), ("Timing", self.timing)]
        )
        self.side.emptied.connect(lambda _empty: self.fit(self._width, force=True))

    def show_running(self, running: bool) -> None:
        """Progress and Cancel show while a run or a file operation goes."""
        self.progress.setVisible(running)
        self.cancel_button.setVisible(running)

    def fold_model(self, folded: bool) -> None:
        """Fold the Model panel to its line above the grid (the grid gets its width), or open
        it on the left."""
        self.left.setVisible(not folded)
        self.model_line.setChecked(not folded)
        self.fit(self._width, force=True)

    def _model_line_clicked(self, opened: bool) -> None:
        """The person opened (or folded) the panel: loading a model no longer folds it while
        they have it open."""
        self.model_open_by_hand = opened
        self.fold_model(not opened)

    def fit(self, width: int, force: bool = False) -> None:
        """Share ``width`` out: the Model panel (when open) and the side panes take about a
        fifth each (within their bounds), the grid the rest; until the person moves a divider
        themselves (``force``: a column was shown or hidden, share again)."""
        self._width = width
        if self._by_hand and not force:
            return
        left = right = 0
        if not self.left.isHidden():
            # its content and the scroll bar beside it (else a horizontal scroll bar shows too)
            bar = self.left.verticalScrollBar().sizeHint().width()
            content = self.left_content.minimumSizeHint().width() + bar + 4
            left = max(content, min(330, width // 5))
        if not self.side.empty:
            share = min(SIDE_MAX, int(width * SIDE_SHARE))
            need = max(self.side.minimumSizeHint().width(), self.side.titles_width() + 4)
            right = max(need, share)  # (every tab's title in full)
        self.splitter.setSizes([left, max(0, width - left - right), right])

    def _moved_by_hand(self, *_args) -> None:
        self._by_hand = True
