"""The Train tab's progress line: what stage the training is at, epoch n of N, the best so
far, a bar, and a hint when the new layer starts learning the training images by heart.

The line about epochs is written when the curves draw that epoch (TrainingCurves.drawn), so
the words and the picture always show the same epoch."""

from __future__ import annotations

import html
from collections.abc import Sequence

from PySide6.QtWidgets import QLabel, QProgressBar, QVBoxLayout, QWidget

from ...core.tasks import format_duration
from ...core.training.records import EpochStats, ExtractionProgress, TrainStage, chosen_by
from ..widgets.status_label import StatusLabel

OVERFIT_GAP = 0.15  # train accuracy this far above validation accuracy...
OVERFIT_MIN_EPOCHS = 3  # ...after at least this many epochs

STAGES = {
    "weights": "Loading the base network",
    "extract": "Extracting features",
    "train": "Training",
    "evaluate": "Measuring the result",
}


def overfitting_hint(history: Sequence[EpochStats]) -> str | None:
    """A sentence for the person when training and validation accuracy have drifted apart
    (the last epoch's train accuracy at least OVERFIT_GAP above its validation accuracy, past
    the first epochs); None while they agree or there is no validation set."""
    if len(history) < OVERFIT_MIN_EPOCHS:
        return None
    last = history[-1]
    if last.val_acc is None or last.train_acc - last.val_acc < OVERFIT_GAP:
        return None
    return (
        f"Overfitting: {last.train_acc:.0%} right on the training images but {last.val_acc:.0%} "
        "on validation. The new layer is learning the training images by heart; more images "
        "per class, augmented views, or fewer epochs help. The epoch kept is the one with the "
        "lowest validation loss."
    )


def error_html(message: str) -> str:
    """``message`` in red for a rich-text label, escaped (paths and errors may hold < or &)."""
    return f"<span style='color:#b91c1c'>{html.escape(message)}</span>"


class TrainProgress(QWidget):
    """The line (``status``, a StatusLabel), the bar and the overfitting hint."""

    def __init__(self, text: str = "", parent=None):
        super().__init__(parent)
        self.status = StatusLabel(text, objectName="runStatus", wordWrap=True)
        self.bar = QProgressBar(textVisible=False)
        self.bar.setFixedHeight(6)
        self.hint = QLabel(objectName="warning", wordWrap=True, visible=False)
        self.epochs = 0  # how many epochs this training has (for "epoch n of N")
        self.shown_epoch = 0  # the epoch the line talks about
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.status)
        lay.addWidget(self.bar)
        lay.addWidget(self.hint)

    def set_text(self, text: str) -> None:
        self.status.setText(text)

    def start(self, epochs: int) -> None:
        self.epochs, self.shown_epoch = epochs, 0
        self.hint.hide()
        self.bar.setRange(0, 0)
        self.status.setText("<b>Starting…</b>")

    def stage(self, record: TrainStage) -> None:
        name = STAGES.get(record.stage, record.stage.capitalize())
        detail = record.message
        self.status.setText(f"<b>{name}</b> · {html.escape(detail)}…")
        if record.stage == "train":
            self.bar.setRange(0, max(1, self.epochs))
            self.bar.setValue(0)
        elif record.stage in ("weights", "evaluate"):
            self.bar.setRange(0, 0)

    def extraction(self, p: ExtractionProgress) -> None:
        self.bar.setRange(0, max(1, p.total))
        self.bar.setValue(p.done)
        parts = [f"{p.done:,} of {p.total:,} images"]
        if p.cached:
            parts.append(f"{p.cached:,} from the cache")
        if p.ms_per_image > 0:
            parts.append(f"{p.ms_per_image:.0f} ms per image")
        if p.eta_s is not None:
            parts.append(f"about {format_duration(p.eta_s)} left")
        self.status.setText(f"<b>Extracting features</b> · {' · '.join(parts)}")

    def download(self, done: int, total: int) -> None:
        self.bar.setRange(0, 1000)
        self.bar.setValue(int(1000 * done / total))
        self.status.setText(
            f"<b>Downloading ImageNet weights</b> · {done / 1e6:.0f} of {total / 1e6:.0f} MB"
        )

    def epoch(self, history: Sequence[EpochStats]) -> None:
        """The line for the last epoch in ``history`` (the one the curves just drew)."""
        if not history:
            return
        last = history[-1]
        self.shown_epoch = last.epoch
        self.bar.setRange(0, max(1, self.epochs))
        self.bar.setValue(last.epoch)
        of = f" of {self.epochs}" if self.epochs else ""
        parts = [f"epoch {last.epoch}{of}"]
        best = max((s for s in history if s.is_best), key=lambda s: s.epoch, default=None)
        if best is not None:  # named by what it is chosen by: the loss, not the accuracy
            parts.append(f"best so far: epoch {best.epoch}, {chosen_by(best)}")
        self.status.setText(f"<b>Training</b> · {' · '.join(parts)}")
        hint = overfitting_hint(history)
        self.hint.setText(hint or "")
        self.hint.setVisible(hint is not None)

    def end(self, text: str) -> None:
        self.bar.setRange(0, 1)
        self.bar.setValue(1)
        self.status.setText(text)
