"""What keeping heat maps and embeddings costs a run (`pigeonhole bench --keep`): the same
Classifier the window uses, on the same files, with and without ``Keep()``; and the memory
kept per image.

The two runs alternate (A B, then B A...) so that the drift of a shared machine falls on both;
each repeat's ratio compares two neighbouring runs, and the median ratio is reported with the
load average of the time (``os.getloadavg``). Other jobs only ever slow a run down, so the
fastest run of each kind is compared too (``best_ratio``): on a loaded machine (load 7 on 2
cores) single repeats ranged from 42 % to 227 % where the forward pass itself differed by 1 %.
The steady figure is the processor time of one batch's work (``batch_ratio``)."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ..runtime.kept import Keep

IMAGES_PER_RUN_SHOWN = 50_000  # the memory of a run this size is printed too


def load() -> float:
    """The one-minute load average (0 where the system has none)."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return 0.0


def run_ips(clf, files: list[Path]) -> float:
    """Images/s of one whole run of ``clf`` over ``files`` (what a person's run does: the
    predictions with their kept maps are built, then dropped)."""
    t0 = time.perf_counter()
    for _batch in clf.run(files):
        pass
    return len(files) / (time.perf_counter() - t0)


def interleaved(without, with_, files: list[Path], repeats: int) -> tuple[list, list, list]:
    """(images/s without, images/s with, load) per repeat, the order swapped every repeat;
    both warmed up first on one batch."""
    for clf in (without, with_):
        run_ips(clf, files[: clf.batch_size])
    a, b, loads = [], [], []
    for i in range(repeats):
        order = (without, with_) if i % 2 == 0 else (with_, without)
        for clf in order:
            (a if clf is without else b).append(run_ips(clf, files))
        loads.append(load())
    return a, b, loads


def batch_cpu_seconds(clf, crops) -> float:
    """The processor time (this process's, all threads) of one batch as a run's forward
    thread handles it: the step's top-k with the extra outputs copied to the host, then the
    Keeper's conversion of them."""
    t0 = time.process_time()
    top = clf.step.classify(crops, clf.topk)
    if clf.keeper is not None and top.extras:
        clf.keeper.rows(top.extras, np.asarray(top.indices))
    return time.process_time() - t0


def batch_ratio(without, with_, files: list[Path], rounds: int) -> float:
    """Throughput with / without of the forward thread's work alone, as processor time, on a
    batch of the files' crops, torch on one thread: the work itself, which other jobs on the
    machine barely change (wall-clock ratios scattered by +-40 % at load 7; this one by
    under 1 %). The two alternate batch by batch, the least time of each compared."""
    from ..data.images import load_image
    from ..data.preprocessing import crop_array

    crops = torch.from_numpy(
        np.stack([crop_array(load_image(f), with_.transform) for f in files[: with_.batch_size]])
    )
    a, b = [], []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for i in range(rounds + 1):  # the first round warms up
            for clf, times in ((without, a), (with_, b))[:: 1 if i % 2 else -1]:
                seconds = batch_cpu_seconds(clf, crops)
                if i:
                    times.append(seconds)
    finally:
        torch.set_num_threads(threads)
    return min(a) / min(b)


def keep_cost(without, with_, files: list[Path], repeats: int) -> dict:
    """One engine's figures: throughput with maps kept / without (median of the repeats'
    ratios; the forward thread's work alone too), and the bytes kept per image."""
    a, b, loads = interleaved(without, with_, files, repeats)
    batch = batch_ratio(without, with_, files, 3 * repeats)
    loads.append(load())
    ratios = [y / x for x, y in zip(a, b, strict=True)]
    keeper = with_.keeper
    per_image = keeper.used / max(keeper.images, 1)
    return {
        "engine": with_.engine,
        "precision": with_.precision,
        "classes": len(with_.class_names),
        "outputs": list(with_.step.extra_outputs),
        "without_ips": a,
        "with_ips": b,
        "ratios": ratios,
        "ratio": statistics.median(ratios),
        "best_ratio": max(b) / max(a),
        "batch_ratio": batch,
        "load": loads,
        "bytes_per_image": per_image,
        "mb_per_50k": per_image * IMAGES_PER_RUN_SHOWN / 1e6,
    }


def describe(row: dict) -> str:
    """The row as the bench prints it."""
    name = f"{row['engine']} {row['precision']}"
    each = ", ".join(f"{r:.1%}" for r in row["ratios"])
    loads = ", ".join(f"{x:.1f}" for x in row["load"])
    return (
        f"  maps + embeddings kept ({name}, {row['classes']} classes): "
        f"{statistics.median(row['without_ips']):.1f} -> {statistics.median(row['with_ips']):.1f}"
        f" img/s = {row['ratio']:.1%} of the run without, fastest runs {row['best_ratio']:.1%}"
        f" (repeats {each}); one batch's forward + keeping, CPU time: {row['batch_ratio']:.1%}"
        f" (least of {3 * len(row['ratios'])}); load {loads}\n"
        f"    kept {row['bytes_per_image'] / 1000:.2f} KB per image, "
        f"{row['mb_per_50k']:.0f} MB per {IMAGES_PER_RUN_SHOWN:,} images"
    )


def keep_costs(
    classifier: Callable[..., object], runs, files: list[Path], repeats: int, out=print
) -> list[dict]:
    """For each (precision, engine) of the bench: a Classifier as the window makes it (top 5),
    without and with ``Keep()``, timed against each other."""
    rows = []
    for prec, eng in runs:
        without = classifier(prec, eng, topk=5)
        with_ = classifier(prec, eng, topk=5, keep=Keep())
        rows.append(keep_cost(without, with_, files, repeats))
        out(describe(rows[-1]))
    return rows
