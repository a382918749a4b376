"""Training views: loss and accuracy curves (pyqtgraph, imported when they are first shown or
drawn: the window opens without it). (The confusion-matrix heat map the results show is
gui.widgets.confusion's, shared with the Classify tab's evaluation.)"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QWidget

from ..widgets.plots import NO_RUN, CompactAxes, add_empty_note, show_empty

TRAIN_COLOUR = "#2563eb"
VAL_COLOUR = "#f59e0b"
_REDRAW_MS = 100


class TrainingCurves(QWidget):
    """Train/validation loss and accuracy per epoch; a dashed line marks the kept epoch.
    ``drawn(history)`` follows every redraw, with the epochs it drew (the progress line
    takes its words from there, so it never runs ahead of the picture)."""

    drawn = Signal(object)  # list[EpochStats]: what the curves show now

    def __init__(self, parent=None):
        super().__init__(parent)
        self.history: list = []  # the EpochStats received
        self.epochs: list[int] = []
        self.train_loss: list[float] = []
        self.val_loss: list[float] = []
        self.train_acc: list[float] = []
        self.val_acc: list[float] = []
        self.best_epoch = 0
        self._dirty = False
        self.loss_plot = self.acc_plot = None  # built at the first show or draw (ensure_plots)
        self.curves: dict = {}
        self._row = QHBoxLayout(self)
        self._row.setContentsMargins(0, 0, 0, 0)
        self._note = NO_RUN  # what the empty plots say
        self._timer = QTimer(self, interval=_REDRAW_MS, singleShot=True)
        self._timer.timeout.connect(self.redraw)

    def ensure_plots(self) -> None:
        """Build the plots (once; imports pyqtgraph if nothing has yet)."""
        if self.loss_plot is not None:
            return
        import pyqtgraph as pg

        pg.setConfigOptions(antialias=True, background="w", foreground="#3f3f46")
        self.loss_plot = pg.PlotWidget()
        self.acc_plot = pg.PlotWidget()
        for plot, key in ((self.loss_plot, "loss"), (self.acc_plot, "acc")):
            plot.showGrid(x=False, y=True, alpha=0.25)
            plot.addLegend(offset=(-5, 5), labelTextSize="8pt")
            plot.setMouseEnabled(x=False, y=False)
            plot.hideButtons()
            plot.setMinimumHeight(150)
            add_empty_note(plot)  # (and plain values on the axes, never "(x0.001)")
            sym = {"symbol": "o", "symbolSize": 4}
            self.curves[f"train_{key}"] = plot.plot(
                pen=pg.mkPen(TRAIN_COLOUR, width=2), name="train", symbolBrush=TRAIN_COLOUR, **sym
            )
            self.curves[f"val_{key}"] = plot.plot(
                pen=pg.mkPen(VAL_COLOUR, width=2), name="validation", symbolBrush=VAL_COLOUR, **sym
            )
        self.axes = [
            CompactAxes(plot, title, {"bottom": "epoch", "left": unit}, min_width=240)
            for plot, title, unit in (
                (self.loss_plot, "Loss", "cross-entropy"),
                (self.acc_plot, "Accuracy", "%"),
            )
        ]
        self.acc_plot.setYRange(0, 100, padding=0.02)
        self.best_lines = [
            pg.InfiniteLine(angle=90, pen=pg.mkPen("#16a34a", width=1, style=Qt.PenStyle.DashLine))
            for _ in range(2)
        ]
        for plot, line in zip((self.loss_plot, self.acc_plot), self.best_lines, strict=True):
            line.setVisible(False)
            plot.addItem(line)

        self._row.addWidget(self.loss_plot)
        self._row.addWidget(self.acc_plot)
        self._show_empty()

    def showEvent(self, event) -> None:  # noqa: N802 (Qt API)
        self.ensure_plots()
        super().showEvent(event)

    def add_epoch(self, stats) -> None:
        """Append a core.training.head.EpochStats (the redraw is throttled)."""
        self.history.append(stats)
        self.epochs.append(stats.epoch)
        self.train_loss.append(stats.train_loss)
        self.train_acc.append(100 * stats.train_acc)
        if stats.val_loss is not None:
            self.val_loss.append(stats.val_loss)
            self.val_acc.append(100 * stats.val_acc)
        if stats.is_best:
            self.best_epoch = stats.epoch
        if not self._timer.isActive():
            self._timer.start()

    def set_best(self, epoch: int) -> None:
        self.best_epoch = epoch
        self.redraw()

    def clear(self) -> None:
        for series in (
            self.history,
            self.epochs,
            self.train_loss,
            self.val_loss,
            self.train_acc,
            self.val_acc,
        ):
            series.clear()
        self.best_epoch = 0
        self._note = "Waiting for the first epoch…"  # (a new run)
        self.redraw()

    def point_count(self, name: str = "train_loss") -> int:
        self.ensure_plots()
        x, _ = self.curves[name].getData()
        return 0 if x is None else len(x)

    def _show_empty(self) -> bool:
        """Before the first epoch the plots say so instead of showing empty axes; returns
        whether they are empty."""
        empty = not self.epochs
        for plot in (self.loss_plot, self.acc_plot):
            show_empty(plot, empty, self._note)
        if not empty:
            for plot in (self.loss_plot, self.acc_plot):
                plot.enableAutoRange()
            self.acc_plot.setYRange(0, 100, padding=0.02)  # (the per cent scale stays whole)
        return empty

    def redraw(self) -> None:
        self.ensure_plots()
        self._show_empty()
        x = self.epochs
        self.curves["train_loss"].setData(x, self.train_loss)
        self.curves["train_acc"].setData(x, self.train_acc)
        self.curves["val_loss"].setData(x[: len(self.val_loss)], self.val_loss)
        self.curves["val_acc"].setData(x[: len(self.val_acc)], self.val_acc)
        for line in self.best_lines:
            line.setVisible(self.best_epoch > 0)
            line.setValue(self.best_epoch)
        self.drawn.emit(list(self.history))
