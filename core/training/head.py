"""Train a classification layer on cached features, and measure it.

Features are standardised (per feature, or per channel for SqueezeNet's spatial maps) for
well-conditioned optimisation; the standardisation is folded into the layer's weights at the
end, so the saved network is the plain architecture with a plain head.
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import Cancelled, TrainingDiverged
from ..results.metrics import classification_metrics
from ..tasks import stop_check
from .records import EpochStats, chosen_by, kept_epoch_line  # noqa: F401 (re-exported)

# Below this many feature values an epoch is a few small matmuls: one thread is faster than
# several (no fork/join cost, no fight with a busy machine).
_SMALL_WORK = 4_000_000


@contextlib.contextmanager
def _threads(n: int) -> Iterator[None]:
    """Use ``n`` intra-op threads inside the block (0 = leave as is)."""
    before = torch.get_num_threads()
    if n and n != before:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


class StandardisedHead(nn.Module):
    """``layer((x - mean) / std)``; for ``kind == "conv"`` followed by ReLU and global average
    pooling, as SqueezeNet's classifier does."""

    def __init__(self, mean: torch.Tensor, std: torch.Tensor, num_classes: int, kind: str):
        super().__init__()
        self.kind = kind
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)
        if kind == "conv":
            self.layer: nn.Module = nn.Conv2d(mean.shape[0], num_classes, kernel_size=1)
        else:
            self.layer = nn.Linear(mean.shape[0], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "conv":
            x = (x - self.mean[:, None, None]) / self.std[:, None, None]
            return torch.flatten(F.adaptive_avg_pool2d(F.relu(self.layer(x)), 1), 1)
        return self.layer((x - self.mean) / self.std)

    def folded(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(weight, bias) of the same layer acting on raw features."""
        w = self.layer.weight.detach().reshape(self.layer.weight.shape[0], -1)
        w_raw = w / self.std
        b_raw = self.layer.bias.detach() - (w_raw * self.mean).sum(1)
        return w_raw.reshape(self.layer.weight.shape).clone(), b_raw.clone()


@dataclass(slots=True)
class HeadOutcome:
    head: StandardisedHead  # the kept (best) epoch's head
    history: list[EpochStats]
    best_epoch: int
    stopped_early: bool
    cancelled: bool
    diverged: str | None = None  # why training stopped early on a NaN/inf loss, if it did

    @property
    def folded(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.head.folded()


@dataclass(slots=True)
class Evaluation:
    accuracy: float
    loss: float
    confusion: list[list[int]]  # [true][predicted]
    per_class: list[tuple[float, float, float, int]]  # precision, recall, f1, support
    predicted: torch.Tensor
    confidence: torch.Tensor


def _stats(x: torch.Tensor, kind: str) -> tuple[torch.Tensor, torch.Tensor]:
    dims = (0, 2, 3) if kind == "conv" else (0,)
    mean = x.mean(dim=dims)
    std = x.std(dim=dims) if x.shape[0] > 1 else torch.ones_like(mean)
    std = torch.where(std > 1e-6, std, torch.ones_like(std))
    return mean, std


def class_weights(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Inverse-frequency weights, mean 1 over the classes present."""
    counts = torch.bincount(labels, minlength=num_classes).float()
    present = counts > 0
    w = torch.zeros(num_classes)
    w[present] = labels.numel() / (present.sum() * counts[present])
    return w


def train_head(
    train_x: torch.Tensor,
    train_y: torch.Tensor,
    val_x: torch.Tensor,
    val_y: torch.Tensor,
    num_classes: int,
    cfg,
    kind: str = "linear",
    *,
    should_stop=None,
    progress: Callable | None = None,
) -> Iterator[EpochStats]:
    """Generator: yields an EpochStats per epoch; returns a :class:`HeadOutcome` holding the
    best epoch (lowest validation loss; training loss without validation). Seeded.

    A loss that becomes NaN or infinite (a learning rate far too high) stops training: with a
    good epoch before it, that epoch is kept and ``diverged`` says what happened; without one,
    :class:`TrainingDiverged` is raised. Only ``should_stop`` ever means cancelled."""
    stop = stop_check(should_stop)
    gen = torch.Generator().manual_seed(cfg.seed)
    head = _new_head(train_x, num_classes, kind, cfg.seed)
    weight = class_weights(train_y, num_classes) if cfg.balanced else None
    epochs = max(1, int(cfg.epochs))
    opt, sched = _optimizer(head, cfg, epochs)
    has_val = val_y.numel() > 0
    n, bs = train_y.numel(), max(1, int(cfg.batch_size))
    history: list[EpochStats] = []
    best_loss, best_epoch, best_state, since_best = math.inf, 0, None, 0
    stopped_early = cancelled = False
    diverged: str | None = None
    small = train_x.numel() + val_x.numel() < _SMALL_WORK
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        perm = torch.randperm(n, generator=gen)
        with _threads(1 if small else 0):
            run = _train_epoch(head, opt, train_x, train_y, perm, bs, weight, stop)
            if run.cancelled:
                cancelled = True
                break
            if run.bad_loss is not None:
                diverged = f"the training loss became {run.bad_loss} in epoch {epoch}"
                break
            lr = opt.param_groups[0]["lr"]
            sched.step()
            val_loss, val_acc = _validate(head, val_x, val_y, weight)
            if val_loss is not None and not math.isfinite(val_loss):
                diverged = f"the validation loss became {val_loss} in epoch {epoch}"
                break
        train_loss = run.loss_sum / run.seen
        watched = val_loss if has_val else train_loss
        is_best = watched < best_loss - 1e-7
        if is_best:
            best_loss, best_epoch, since_best = watched, epoch, 0
            best_state = copy.deepcopy(head.state_dict())
        else:
            since_best += 1
        ms = (time.perf_counter() - t0) * 1000
        stats = EpochStats(
            epoch, train_loss, run.correct / run.seen, val_loss, val_acc, ms, is_best, lr
        )
        history.append(stats)
        if progress:
            progress(epoch, epochs)
        yield stats
        if cfg.patience and since_best >= cfg.patience and epoch < epochs:
            stopped_early = True
            break
    diverged = _keep_best(head, best_state, best_epoch, diverged, cfg.lr)
    return HeadOutcome(head, history, best_epoch, stopped_early, cancelled, diverged)


def _new_head(train_x: torch.Tensor, num_classes: int, kind: str, seed: int) -> StandardisedHead:
    """A fresh head, standardised on the training features, its layer initialised from ``seed``
    (without touching the process's random state)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        mean, std = _stats(train_x, kind)
        return StandardisedHead(mean, std, num_classes, kind)


def _optimizer(head: StandardisedHead, cfg, epochs: int):
    """The optimizer ``cfg`` names and its schedule: cosine from lr down to 5 % over ``epochs``."""
    params = list(head.layer.parameters())
    if cfg.optimizer == "sgd":
        opt = torch.optim.SGD(params, lr=cfg.lr, momentum=0.9, weight_decay=cfg.weight_decay)
    else:
        opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda e: 0.5 * (1 + math.cos(math.pi * min(e, epochs) / epochs)) * 0.95 + 0.05
    )
    return opt, sched


@dataclass(slots=True)
class _EpochRun:
    """One pass over the training features: summed loss, right answers, images seen; and why
    it stopped early, if it did."""

    loss_sum: float = 0.0
    correct: int = 0
    seen: int = 0
    cancelled: bool = False
    bad_loss: float | None = None  # a NaN or infinite mini-batch loss


def _train_epoch(head, opt, train_x, train_y, perm, bs: int, weight, stop) -> _EpochRun:
    """One epoch of mini-batches in the order ``perm``; stops at a cancel or a non-finite loss."""
    head.train()
    run = _EpochRun()
    for start in range(0, len(perm), bs):
        if stop():
            run.cancelled = True
            break
        idx = perm[start : start + bs]
        logits = head(train_x[idx])
        loss = F.cross_entropy(logits, train_y[idx], weight=weight)
        value = loss.item()
        if not math.isfinite(value):
            run.bad_loss = value
            break
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        run.loss_sum += value * idx.numel()
        run.correct += int((logits.argmax(1) == train_y[idx]).sum())
        run.seen += idx.numel()
    return run


def _validate(head, val_x, val_y, weight) -> tuple[float | None, float | None]:
    """(loss, accuracy) on the validation features; (None, None) without a validation set."""
    head.eval()
    if val_y.numel() == 0:
        return None, None
    with torch.no_grad():
        logits = head(val_x)
        loss = float(F.cross_entropy(logits, val_y, weight=weight))
        return loss, float((logits.argmax(1) == val_y).float().mean())


def _keep_best(head, best_state, best_epoch: int, diverged: str | None, lr: float) -> str | None:
    """Load the best epoch's weights into ``head``; say why training diverged, if it did.
    Without a finished epoch there is nothing to keep: raise why."""
    if diverged and best_state is None:
        raise TrainingDiverged(
            f"Training diverged: {diverged}, so nothing was learned. "
            f"Try a lower learning rate (it was {lr:g})."
        )
    if best_state is None:
        raise Cancelled("Training cancelled before the first epoch finished.")
    if diverged:
        diverged = (
            f"training diverged ({diverged}); keeping epoch {best_epoch}, the best before it. "
            f"A lower learning rate (it was {lr:g}) may train further."
        )
    head.load_state_dict(best_state)
    head.eval()
    return diverged


@torch.no_grad()
def evaluate_head(
    head: nn.Module, x: torch.Tensor, y: torch.Tensor, num_classes: int
) -> Evaluation:
    """Accuracy, loss, confusion matrix and per-class precision/recall/F1 of ``head``."""
    head.eval()
    if y.numel() == 0:
        empty = torch.empty(0)
        return Evaluation(
            0.0,
            0.0,
            [[0] * num_classes for _ in range(num_classes)],
            [(0.0, 0.0, 0.0, 0)] * num_classes,
            empty.long(),
            empty,
        )
    logits = head(x)
    conf, pred = logits.softmax(1).max(1)
    m = classification_metrics(y.tolist(), pred.tolist(), [str(c) for c in range(num_classes)])
    return Evaluation(
        accuracy=m.accuracy,
        loss=float(F.cross_entropy(logits, y)),
        confusion=[list(row) for row in m.confusion],
        per_class=[(c.precision, c.recall, c.f1, c.support) for c in m.per_class],
        predicted=pred,
        confidence=conf,
    )
