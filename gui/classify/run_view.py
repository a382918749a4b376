"""How a run shows in the Classify tab: the grid replacing the start page, the progress bar,
the Cancel button, and the status line (which the main window's status bar shows)."""

from __future__ import annotations

from .layout import ClassifyLayout
from .run import RunProgress
from .skipped import skipped_counts

ENGINE_NAMES = {"torch": "PyTorch", "onnxruntime": "ONNX Runtime"}


def engine_line(summary) -> str:
    """How the last run ran the model ("Last run: ONNX Runtime, int8 · int8: top-1 agrees with
    fp32 on 30 of 32 held-out images"), the engine's note (a fallback's reason) included."""
    engine = ENGINE_NAMES.get(summary.engine, summary.engine)
    note = f" · {summary.engine_note}" if summary.engine_note else ""
    return f"Last run: {engine}, {summary.precision}{note}"


def engine_choice(model_panel) -> str:
    """The engine the Model panel is set to, for the model's line before a run says which
    one ran it."""
    text = model_panel.engine.currentText()
    return "engine: automatic" if text == "Automatic" else text


def engine_short(summary) -> str:
    """The engine and precision a run used ("ONNX Runtime fp32"), for the model's line."""
    return f"{ENGINE_NAMES.get(summary.engine, summary.engine)} {summary.precision}"


class RunView:
    """Turns the run controller's events into the tab's run widgets."""

    def __init__(self, ui: ClassifyLayout):
        self.ui = ui

    def started(self) -> None:
        ui = self.ui
        ui.drop_zone.show_content()
        for b in (ui.add_folder_button, ui.add_files_button):
            b.setVisible(True)
        ui.cancel_button.setEnabled(True)
        ui.show_running(True)
        ui.progress.setRange(0, 0)
        ui.run_status.setText("Finding images…")

    def staged(self, text: str) -> None:
        """A long step before the first image (an ONNX export, int8's calibration)."""
        self.ui.run_status.setText(f"{text}…")

    def progressed(self, p: RunProgress) -> None:
        if p.total:
            self.ui.progress.setRange(0, p.total)
            self.ui.progress.setValue(p.done)
        self.ui.run_status.setText(p.text())

    def finished(self, summary, rows: int) -> None:
        """The run ended (``summary`` None: cancelled before core summed it up)."""
        ui = self.ui
        ui.cancel_button.setEnabled(False)
        ui.show_running(False)
        ui.progress.setRange(0, 1)
        ui.progress.setValue(1 if summary is not None and not summary.cancelled else 0)
        if summary is None:
            ui.run_status.setText(f"Cancelled: {rows:,} images classified.")
        else:
            what = "Cancelled after" if summary.cancelled else "Done:"
            failed = f", {summary.skipped:,} could not be read" if summary.skipped else ""
            other = skipped_counts(summary)
            ui.run_status.setText(
                f"{what} {summary.processed:,} images in {summary.total_s:.1f} s "
                f"({summary.images_per_s:.1f} images/s){failed}" + (f"; {other}." if other else ".")
            )
            ui.model_panel.show_engine(engine_line(summary), warning=bool(summary.engine_note))
            ui.model_line.set_engine(engine_short(summary))

    def stopped(self, rows: int) -> None:
        """The run failed (its message is in the banner)."""
        ui = self.ui
        ui.cancel_button.setEnabled(False)
        ui.show_running(False)
        ui.progress.setRange(0, 1)
        ui.progress.setValue(0)
        ui.run_status.setText("Run stopped.")
        if rows == 0:
            ui.drop_zone.show_hint()
