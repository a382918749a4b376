"""What training is asked to do and what it reports: the records of core.training, without
torch, so the window's Train tab builds and reads them before torch is imported (or where it is
not installed). The modules that train (fine_tune, features, head) make them."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import PigeonholeError
from ..models.transforms import TransformSpec
from ..results.metrics import ClassMetrics, metrics_table
from ..runtime.options import INT8, RunOptions
from ..tasks import format_duration

if TYPE_CHECKING:
    from torch import nn


@dataclass(frozen=True, slots=True)
class ExtractionProgress:
    """Yielded after every batch of feature extraction."""

    done: int  # jobs finished (cached + extracted + skipped)
    total: int
    cached: int  # of which came from the cache
    skipped: int  # of which could not be decoded
    elapsed_s: float
    ms_per_image: float  # wall time per extracted image, decode overlapped
    eta_s: float | None

    def line(self) -> str:
        eta = f", ETA {format_duration(self.eta_s)}" if self.eta_s is not None else ""
        per = f", {self.ms_per_image:.0f} ms/image" if self.ms_per_image > 0 else ""
        cached = f" ({self.cached} cached)" if self.cached else ""
        return f"features {self.done}/{self.total}{cached}{per}{eta}"


@dataclass(frozen=True, slots=True)
class EpochStats:
    """One finished epoch of head training (val_* are None without a validation set)."""

    epoch: int  # 1-based
    train_loss: float
    train_acc: float
    val_loss: float | None
    val_acc: float | None
    ms: float  # wall time of the epoch, validation included
    is_best: bool  # the best so far (the one that will be kept)
    lr: float = 0.0

    def line(self) -> str:
        val = (
            f"  val loss {self.val_loss:.4f} acc {self.val_acc:7.2%}"
            if self.val_loss is not None
            else ""
        )
        star = "  *" if self.is_best else ""
        return (
            f"epoch {self.epoch:3d}  train loss {self.train_loss:.4f} acc {self.train_acc:7.2%}"
            f"{val}  {self.ms:6.1f} ms{star}"
        )


def chosen_by(stats: EpochStats) -> str:
    """The figure an epoch is kept by, with its accuracy: "lowest validation loss 0.41
    (accuracy 93.0%)" (the training loss where there is no validation set): the epoch kept is
    the one with the lowest loss, not the highest accuracy."""
    if stats.val_loss is not None:
        return f"lowest validation loss {stats.val_loss:.3g} (accuracy {stats.val_acc:.1%})"
    return f"lowest training loss {stats.train_loss:.3g} (accuracy {stats.train_acc:.1%})"


def kept_epoch_line(history: Sequence[EpochStats], best_epoch: int) -> str:
    """ "kept epoch 7: lowest validation loss 0.41 (accuracy 93.0%)": which epoch training
    kept and why, said the same way by the app and the command line."""
    stats = next(s for s in history if s.epoch == best_epoch)
    return f"kept epoch {best_epoch}: {chosen_by(stats)}"


@dataclass(slots=True)
class TrainConfig:
    epochs: int = 30
    lr: float = 1e-2  # features are standardised: a linear probe likes 1e-2 with AdamW
    batch_size: int = 64
    weight_decay: float = 1e-4
    optimizer: str = "adamw"  # "adamw" | "sgd" (momentum 0.9)
    augment: int = 0  # augmented views per training image, besides the plain one
    balanced: bool = False  # class-balanced loss
    patience: int = 5  # epochs without a better validation loss before stopping (0 = off)
    seed: int = 0
    val_split: float = 0.2
    use_cache: bool = True
    run: RunOptions = RunOptions()  # how the backbone runs (device, engine, precision, batch...)

    def validate(self) -> None:
        """Refuse settings that cannot train (NaN, infinite, out of range) with one line,
        before any work; the CLI and the app check their own fields first, this is the net."""
        problems = []
        if not (math.isfinite(self.lr) and self.lr > 0):
            problems.append(f"the learning rate must be a finite number above 0 (got {self.lr})")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            problems.append(
                f"the weight decay must be a finite number >= 0 (got {self.weight_decay})"
            )
        if not (math.isfinite(self.val_split) and 0 <= self.val_split < 1):
            problems.append(
                f"the validation share must be from 0 to below 1 (got {self.val_split})"
            )
        for name, value, low in (
            ("epochs", self.epochs, 1),
            ("batch size", self.batch_size, 1),
            ("augmented views", self.augment, 0),
            ("patience", self.patience, 0),
            ("seed", self.seed, 0),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                problems.append(f"the {name} must be a whole number >= {low} (got {value!r})")
        if self.run.precision == INT8:
            problems.append("features are extracted in floating point (int8 is for classifying)")
        if self.optimizer not in ("adamw", "sgd"):
            problems.append(f"the optimizer must be 'adamw' or 'sgd' (got {self.optimizer!r})")
        if problems:
            raise PigeonholeError("Cannot train: " + "; ".join(problems) + ".")


@dataclass(frozen=True, slots=True)
class TrainStage:
    """A new phase began: "weights", "preprocessing" (the loaded model's, in words), "prepare",
    "extract", "train", "evaluate"."""

    stage: str
    message: str


@dataclass(frozen=True, slots=True)
class Misclassified:
    path: str
    true_label: str
    predicted: str
    confidence: float


@dataclass(slots=True)
class TrainResult:
    model: nn.Module  # the full network, eval mode, CPU, float32
    arch: str
    class_names: list[str]
    transform: TransformSpec
    base: str  # where the backbone weights came from
    history: list[EpochStats]
    best_epoch: int
    stopped_early: bool
    cancelled: bool
    per_class: list[ClassMetrics]
    confusion: list[list[int]]  # [true][predicted]
    misclassified: list[Misclassified]
    eval_split: str  # "val", or "train" when there is no validation set
    val_accuracy: float | None
    val_loss: float | None
    skipped: list[tuple[str, str]]  # images that could not be read: (path, reason)
    dataset: dict
    config: TrainConfig
    extraction_s: float = 0.0
    training_s: float = 0.0
    features_cached: int = 0
    features_extracted: int = 0
    ms_per_image: float = 0.0
    warnings: list[str] = field(default_factory=list)
    saved_to: Path | None = None
    diverged: str | None = None  # training stopped on a NaN/inf loss; the epoch before is kept

    def kept_line(self) -> str:
        """Which epoch was kept and the figure it was chosen by (kept_epoch_line)."""
        return kept_epoch_line(self.history, self.best_epoch)

    @property
    def accuracy(self) -> float | None:
        """Accuracy of the kept epoch on the evaluation split."""
        return self.val_accuracy

    def metrics(self) -> dict:
        """Everything the checkpoint records about this training run."""
        return {
            "best_epoch": self.best_epoch,
            "val_accuracy": self.val_accuracy,
            "val_loss": self.val_loss,
            "eval_split": self.eval_split,
            "stopped_early": self.stopped_early,
            "cancelled": self.cancelled,
            "diverged": self.diverged,
            "history": [asdict(e) for e in self.history],
            "per_class": [asdict(c) for c in self.per_class],
            "confusion": self.confusion,
            "config": asdict(self.config),
            "dataset": self.dataset,
            "base_weights": self.base,
            "skipped_images": len(self.skipped),
            "extraction_s": round(self.extraction_s, 3),
            "training_s": round(self.training_s, 3),
        }

    def save(self, path: str | Path) -> Path:
        """Write the Pigeonhole checkpoint (atomic) and return its path."""

        from ..models.checkpoints import save_checkpoint  # (torch: only when saving)

        path = Path(path).expanduser()
        save_checkpoint(
            path,
            self.model,
            self.arch,
            self.class_names,
            self.transform,
            metrics=self.metrics(),
            extra={"trained_with": "pigeonhole train (frozen backbone, new head)"},
        )
        self.saved_to = path
        return path

    def table(self) -> str:
        """Per-class precision/recall as a text table."""
        return metrics_table(self.per_class)
