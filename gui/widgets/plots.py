"""Timing panel: per-image time over the run, its histogram, and the run's summary.

Batches only append to growable numpy arrays; a timer redraws at most twice a second, so a
fast run is never slowed down by plotting. The plots are built once pyqtgraph is imported
(half a second: on a worker after the window shows, see :func:`import_plotting`, or at their
first use), so the window opens without it. :class:`CompactAxes` hides a plot's title and axis
labels when it is too small to hold them (laptop screens), and is shared with the Train tab.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from .workers import WorkerSlot

if TYPE_CHECKING:
    import pyqtgraph as pg

# 1 Hz: live enough. A redraw (setData, then pyqtgraph's painting of curves and axes, much of
# it Python) took 20-40 ms of the GUI thread during a fast run on 2 cores; at 2 Hz it was in
# most of the event loop's longest waits.
_REDRAW_MS = 1000
_MAX_POINTS = 2000  # the time plot is decimated above this many points
NO_RUN = "No run yet."
HIST_MIN_PANEL = 360  # a panel less high shows no histogram (too flat to read, its labels cut)


def quantile(values: np.ndarray, q: float) -> float:
    """The value at ``q`` (0-1) of ``values`` (not empty). np.median and np.percentile import
    numpy.ma on first use (a NaN check, np.unique): in the GUI thread, on a run's first batch,
    a freeze of 0.2-0.4 s."""
    k = min(len(values) - 1, int(q * len(values)))
    return float(np.partition(values, k)[k])


def median_text(values: np.ndarray) -> str:
    """ " · median 3.1 ms inference", or "" without values."""
    return f" · median {quantile(values, 0.5):.1f} ms inference" if len(values) else ""


def rate_html(rate: float, bold: bool = False) -> str:
    """ "45.2 images/s" kept on one line (a narrow pane wrapped it as "images/" and "s")."""
    number = f"<b>{rate:.1f}</b>" if bold else f"{rate:.1f}"
    # (a word joiner after the slash: Qt breaks lines after "/" otherwise)
    return f"<span style='white-space:nowrap'>{number} images/\u2060s</span>"


def import_plotting(*, should_stop=None, progress=None) -> None:
    """Worker body: import pyqtgraph (the plots are built in the GUI thread once it is)."""
    import pyqtgraph  # noqa: F401


def add_empty_note(plot: pg.PlotWidget, text: str = NO_RUN) -> None:
    """A note in the middle of ``plot`` for while it has nothing to draw ("No run yet."),
    shown by :func:`show_empty` instead of empty 0-1 axes. Kept as ``plot.empty_note``."""
    import pyqtgraph as pg  # (imported already: the plot is pyqtgraph's)

    note = pg.TextItem(text, color="#71717a", anchor=(0.5, 0.5))
    plot.addItem(note, ignoreBounds=True)
    plot.empty_note = note
    for side in ("left", "bottom"):  # plain values: never "(x0.001)"
        plot.getAxis(side).enableAutoSIPrefix(False)


def show_empty(plot: pg.PlotWidget, empty: bool, text: str | None = None) -> None:
    """While ``empty``, the plot shows its note (``text``, if given) and no axes."""
    note = plot.empty_note
    if text is not None:
        note.setText(text)
    note.setVisible(empty)
    for side in ("left", "bottom"):
        plot.showAxis(side, not empty)
    legend = plot.getPlotItem().legend
    if legend is not None:
        legend.setVisible(not empty)
    if empty:
        plot.setXRange(0, 1, padding=0)
        plot.setYRange(0, 1, padding=0)
        note.setPos(0.5, 0.5)


class CompactAxes(QObject):
    """Shows ``plot``'s title and axis labels only while it is at least ``min_width`` x
    ``min_height`` pixels: below that they would overlap the curves and each other."""

    def __init__(
        self,
        plot: pg.PlotWidget,
        title: str,
        labels: dict[str, str],
        min_width: int = 150,
        min_height: int = 90,
    ):
        super().__init__(plot)
        self.plot, self.title, self.labels = plot, title, dict(labels)
        self.min_width, self.min_height = min_width, min_height
        self.full: bool | None = None
        plot.installEventFilter(self)
        self.apply()

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt API)
        if event.type() == QEvent.Type.Resize:
            self.apply()
        return False

    def apply(self) -> None:
        full = self.plot.width() >= self.min_width and self.plot.height() >= self.min_height
        if full == self.full:
            return
        self.full = full
        self.plot.setTitle(self.title if full else None, size="8pt")
        for side, text in self.labels.items():
            axis = self.plot.getAxis(side)
            if full:
                axis.setLabel(text, **{"font-size": "8pt"})
            axis.showLabel(full)


class _Series:
    """Append-only float array that doubles its capacity."""

    def __init__(self) -> None:
        self._a = np.empty(1024, dtype=np.float32)
        self.n = 0

    def extend(self, values) -> None:
        values = np.asarray(values, dtype=np.float32)
        need = self.n + len(values)
        if need > len(self._a):
            grown = np.empty(max(need, 2 * len(self._a)), dtype=np.float32)
            grown[: self.n] = self._a[: self.n]
            self._a = grown
        self._a[self.n : need] = values
        self.n = need

    @property
    def values(self) -> np.ndarray:
        return self._a[: self.n]

    def clear(self) -> None:
        self.n = 0


class TimingPanel(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.infer = _Series()
        self.decode = _Series()
        self._dirty = False
        self.redraws = 0
        self.time_plot = self.hist_plot = None  # built once pyqtgraph is there (ensure_plots)
        self._first = None  # the first plot, built a turn of the event loop before the rest
        self._plots = QVBoxLayout()
        self._plots.setContentsMargins(0, 0, 0, 0)
        self._importing = WorkerSlot(self, on_finished=lambda _none: self._on_imported())

        self.summary = QLabel(NO_RUN)
        self.summary.setObjectName("timingSummary")
        self.summary.setWordWrap(True)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(self._plots, 5)
        lay.addWidget(self.summary)

        self._timer = QTimer(self, interval=_REDRAW_MS)
        self._timer.timeout.connect(self._redraw_if_dirty)
        self._timer.start()
        self._started = False  # a run has started (an empty plot waits for its images)

    def build_later(self) -> None:
        """Import pyqtgraph on a worker, then build the plots (the window opens without)."""
        if self.time_plot is None and not self._importing.busy:
            self._importing.start(import_plotting)

    def _on_imported(self) -> None:
        """pyqtgraph is imported: build the first plot now and the rest in the event loop's
        next turn (each PlotWidget costs the GUI thread 40-50 ms: both at once were the one
        event-loop gap over 100 ms when a folder is dropped as the window opens, issue 27)."""
        if self.time_plot is None and self._first is None:
            self._first = self._time_plot()
            QTimer.singleShot(0, self.ensure_plots)

    def _time_plot(self):
        import pyqtgraph as pg

        pg.setConfigOptions(antialias=False, background="w", foreground="#3f3f46")
        plot = pg.PlotWidget()
        plot.setMinimumHeight(90)
        plot.showGrid(x=False, y=True, alpha=0.25)
        plot.addLegend(offset=(-5, 5), labelTextSize="8pt")
        self.infer_curve = plot.plot(pen=pg.mkPen("#2563eb", width=1), name="inference")
        self.decode_curve = plot.plot(pen=pg.mkPen("#f59e0b", width=1), name="decode")
        return plot

    def ensure_plots(self) -> None:
        """Build the plots now (once), importing pyqtgraph if no worker has yet."""
        if self.time_plot is not None:
            return
        import pyqtgraph as pg

        first, self._first = self._first, None
        self.time_plot = first if first is not None else self._time_plot()
        self.hist_plot = pg.PlotWidget()
        self.hist_plot.setMinimumHeight(80)
        self.hist_curve = self.hist_plot.plot(
            stepMode="center", fillLevel=0, brush=(37, 99, 235, 110), pen=pg.mkPen("#2563eb")
        )
        for p in (self.time_plot, self.hist_plot):
            p.setMouseEnabled(x=False, y=False)
            p.hideButtons()
            add_empty_note(p)  # (and counts and ms: never "(x0.001)")
        self.axes = (
            CompactAxes(self.time_plot, "Time per image", {"left": "ms", "bottom": "image"}),
            CompactAxes(
                self.hist_plot,
                "Inference time histogram",
                {"bottom": "ms per image", "left": "images"},
            ),
        )
        self._plots.addWidget(self.time_plot, 3)
        self._plots.addWidget(self.hist_plot, 2)
        self.hist_plot.setVisible(self.height() >= HIST_MIN_PANEL)
        redraws = self.redraws
        self.redraw()  # what there is so far ("No run yet." when nothing)
        self.redraws = redraws  # (counts the redraws a run makes)

    def shutdown(self) -> None:
        self._importing.shutdown()

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        super().resizeEvent(event)
        if self.hist_plot is not None:
            self.hist_plot.setVisible(self.height() >= HIST_MIN_PANEL)

    # -- feeding -----------------------------------------------------------------------------
    def add_batch(self, predictions) -> None:
        ok = [p for p in predictions if p.error is None]
        if ok:
            self.infer.extend([p.infer_ms for p in ok])
            self.decode.extend([p.decode_ms for p in ok])
            self._dirty = True

    def clear(self, text: str = NO_RUN) -> None:
        self._started = text != NO_RUN
        self.infer.clear()
        self.decode.clear()
        self.summary.setText(text)
        self._dirty = True
        if self.time_plot is not None:  # (not built yet: they show this when they are)
            self.redraw()

    def show_running(self, done: int, total: int | None, rate: float) -> None:
        """The summary line while a run goes (its figures so far)."""
        count = f"{done:,} of {total:,}" if total else f"{done:,}"
        median = median_text(self.infer.values)
        self.summary.setText(f"<b>Running:</b> {count} images · {rate_html(rate)}{median}")

    def show_cancelled(self, done: int) -> None:
        median = median_text(self.infer.values)
        self.summary.setText(f"<b>Cancelled</b> after {done:,} images{median}.")

    def set_summary(self, s, warnings: Sequence[str] | None = None) -> None:
        """Show a core.runtime.inference.RunSummary, and ``warnings`` about the model (by default the
        summary's own) in the warning colour below it."""
        state = " (cancelled)" if s.cancelled else ""
        warned = "".join(
            f"<br><span style='color:#b45309'><b>Warning:</b> {html.escape(w)}</span>"
            for w in (s.warnings if warnings is None else warnings)
        )
        self.summary.setText(
            f"<b>{s.processed:,} images in {s.total_s:.1f} s{state}</b> — "
            f"{rate_html(s.images_per_s, bold=True)}<br>"
            f"per image: mean {s.mean_ms:.1f} ms · median {s.median_ms:.1f} ms · "
            f"p95 {s.p95_ms:.1f} ms<br>"
            f"{s.skipped:,} failed · {s.ignored:,} other files skipped<br>"
            f"{s.arch} on {s.device_name} ({s.device}), {s.precision}, batch {s.batch_size}"
            + warned
        )
        self._dirty = True
        self.redraw()

    # -- drawing -----------------------------------------------------------------------------
    def _redraw_if_dirty(self) -> None:
        if self._dirty and self.isVisible():
            self.redraw()

    def redraw(self) -> None:
        if self.time_plot is None:
            if self._importing.busy:  # built (and redrawn) when the worker's import ends:
                self._dirty = True  # importing here would wait on its import lock (issue 27)
                return
            self.ensure_plots()  # (which redraws)
            return
        self._dirty = False
        self.redraws += 1
        y, d = self.infer.values, self.decode.values
        if len(y) == 0:
            self.infer_curve.setData([], [])
            self.decode_curve.setData([], [])
            self.hist_curve.setData([0, 1], [0])
            for p in (self.time_plot, self.hist_plot):  # a calm empty frame, not -400..400
                show_empty(p, True, "Waiting for images…" if self._started else NO_RUN)
            return
        for p in (self.time_plot, self.hist_plot):
            show_empty(p, False)
            p.enableAutoRange()
        step = max(1, len(y) // _MAX_POINTS)
        x = np.arange(0, len(y), step, dtype=np.float32)
        self.infer_curve.setData(x, y[::step])
        self.decode_curve.setData(x, d[::step])
        hi = quantile(y, 0.995) if len(y) > 20 else float(y.max())
        hi = max(hi, float(y.min()) + 1e-3)
        counts, edges = np.histogram(np.clip(y, None, hi), bins=min(40, max(5, len(y) // 4)))
        self.hist_curve.setData(edges, counts)
