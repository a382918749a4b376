"""`pigeonhole train DATA_DIR --arch NAME`: train a new final layer and save a checkpoint.

Prints the classes found, extraction progress (on a terminal), one line per epoch, the per-class
table of the kept epoch and where the checkpoint went. The first Ctrl-C stops training and keeps
the best epoch so far; a second one aborts.

``--out`` is checked before anything runs. If it turns bad during the run (its folder removed,
made read-only, replaced by a file), the model is saved in the current folder or, failing that,
in the app's data folder, and the message says where. Exit codes: 0 saved where asked; 1 saved
elsewhere, or training diverged after a good epoch (that epoch is saved); 2 errors (a run whose
loss became NaN at once included); 130 only when the user cancelled.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from pathlib import Path

from pigeonhole.core.data.datasets import DatasetPlan, plan_dataset
from pigeonhole.core.errors import Cancelled
from pigeonhole.core.fileio import check_output_file, models_dir, write_with_fallback
from pigeonhole.core.models.archs import get_arch
from pigeonhole.core.models.files import SAVE_SUFFIXES
from pigeonhole.core.runtime.options import RunOptions
from pigeonhole.core.tasks import run_to_end
from pigeonhole.core.training.features import ExtractionProgress
from pigeonhole.core.training.fine_tune import (
    TrainConfig,
    TrainResult,
    TrainStage,
    train_classifier,
)
from pigeonhole.core.training.head import EpochStats

from . import model_source
from .output import printable

DEFAULT_ARCH = "resnet18"  # the Train tab's default network too (gui/train/panels.py)


def default_out(plan: DatasetPlan, arch: str, folder: Path | None = None) -> Path:
    """``<data folder name>-<arch>.pth`` in the current folder, never replacing a file."""
    folder = folder or Path.cwd()
    stem = f"{plan.root.resolve().name or 'model'}-{arch}"
    path = folder / f"{stem}.pth"
    n = 2
    while path.exists():
        path = folder / f"{stem}-{n}.pth"
        n += 1
    return path


def print_plan(plan: DatasetPlan) -> None:
    counts = plan.counts()
    names = [printable(c.name) for c in counts]  # folder names: no line breaks in the table
    width = max([5, *(len(n) for n in names)])
    print(f"data: {printable(str(plan.root))} ({plan.layout})")
    print(f"  {'class':<{width}}  {'train':>6}  {'val':>5}")
    for name, c in zip(names, counts, strict=True):
        print(f"  {name:<{width}}  {c.train:>6}  {c.val:>5}")
    if plan.ignored:
        print(f"  ({plan.ignored} non-image files ignored)")
    for w in plan.warnings:
        print(f"warning: {printable(w)}")


@contextlib.contextmanager
def _ctrl_c_stops(event: threading.Event):
    """First Ctrl-C sets ``event``; the second raises KeyboardInterrupt as usual."""

    def handler(signum, frame):
        if event.is_set():
            raise KeyboardInterrupt
        event.set()
        print("\nstopping (Ctrl-C again to abort)...", file=sys.stderr, flush=True)

    try:
        previous = signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _config(args) -> TrainConfig:
    """The options were range-checked when parsed (pigeonhole.cli); the config checks again."""
    return TrainConfig(
        epochs=args.epochs,
        lr=args.lr,
        batch_size=args.batch_size,
        weight_decay=args.weight_decay,
        optimizer=args.optimizer,
        augment=args.augment,
        balanced=args.balanced,
        patience=args.patience,
        seed=args.seed,
        val_split=args.val_split,
        use_cache=not args.no_cache,
        run=RunOptions(device=args.device, precision=args.precision),
    )


def run(args) -> int:
    if not args.arch and not args.checkpoint:  # the app's default base network too
        args.arch = DEFAULT_ARCH
        print(
            f"pigeonhole: no --arch or --checkpoint: training on {DEFAULT_ARCH}'s ImageNet "
            "weights (the default; see `pigeonhole models`)",
            file=sys.stderr,
        )
    cfg = _config(args)
    cfg.validate()
    out = check_output_file(args.out, "--out", SAVE_SUFFIXES) if args.out else None
    source = model_source(args)  # bad options fail before the dataset is scanned
    plan = plan_dataset(
        args.data_dir, val_dir=args.val_dir, val_split=args.val_split, seed=args.seed
    )
    print_plan(plan)
    arch_label = get_arch(args.arch).name if args.arch else "checkpoint"
    tty = sys.stderr.isatty()
    stop = threading.Event()
    gen = train_classifier(
        None,
        source,
        config=cfg,
        plan=plan,
        should_stop=stop,
    )
    result: TrainResult | None = None
    last: ExtractionProgress | None = None

    def show(record) -> None:
        nonlocal last
        if isinstance(record, ExtractionProgress):
            last = record
            if tty:
                print(f"\r{record.line():<70}", end="", file=sys.stderr, flush=True)
            return
        if last is not None:
            if tty:
                print(file=sys.stderr)
            print(_extraction_summary(last))
            last = None
        if isinstance(record, TrainStage) and record.stage == "weights":
            print(f"{record.message}...")
        elif isinstance(record, TrainStage) and record.stage == "preprocessing":
            print(f"pigeonhole: {record.message}", file=sys.stderr)
        elif isinstance(record, EpochStats):
            print(record.line(), flush=True)

    with _ctrl_c_stops(stop):
        try:
            result = run_to_end(gen, show)
        except Cancelled:
            if tty:
                print(file=sys.stderr)
            print(
                "pigeonhole: cancelled before training finished; nothing saved "
                "(features extracted so far are cached for next time)",
                file=sys.stderr,
            )
            return 130
    assert result is not None
    _print_result(result)
    code = 0
    if result.diverged:
        print(f"pigeonhole: warning: {result.diverged}", file=sys.stderr)
        code = 1
    wanted = out or default_out(plan, result.arch or arch_label)
    saved = write_with_fallback(wanted, result.save, [Path.cwd, models_dir])
    if saved.fell_back:
        print(
            f"pigeonhole: could not save to {printable(str(wanted))} ({saved.problem}); "
            f"the checkpoint was saved to {printable(str(saved.path))} instead",
            file=sys.stderr,
        )
        code = 1
    print(f"checkpoint saved to {printable(str(saved.path))}")
    print(f"use it: pigeonhole predict --checkpoint {_quote(saved.path)} IMAGES...")
    return code


def _extraction_summary(p: ExtractionProgress) -> str:
    extracted = p.done - p.cached - p.skipped
    parts = [f"features: {extracted} extracted"]
    if p.cached:
        parts.append(f"{p.cached} from the cache")
    if p.skipped:
        parts.append(f"{p.skipped} unreadable, skipped")
    per = f", {p.ms_per_image:.1f} ms/image" if extracted else ""
    return ", ".join(parts) + f" in {p.elapsed_s:.1f} s{per}"


def _print_result(r: TrainResult) -> None:
    if r.cancelled:
        print(f"stopped by Ctrl-C: keeping the best epoch so far (epoch {r.best_epoch})")
    elif r.stopped_early:
        print(f"early stop: no better validation loss for {r.config.patience} epochs")
    print(r.kept_line())  # the figure it was chosen by, as the app says it
    print(r.table())
    if r.skipped:
        print(f"{len(r.skipped)} unreadable image(s) skipped:")
        for path, reason in r.skipped[:20]:
            print(f"  {printable(str(path))}: {printable(reason)}")
        if len(r.skipped) > 20:
            print(f"  ... and {len(r.skipped) - 20} more")


def _quote(p: Path) -> str:
    s = printable(str(p))
    return f'"{s}"' if " " in s else s
