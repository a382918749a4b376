"""`pigeonhole bench [FOLDER]`: model-only vs full pipeline vs the naive loop, in one run, for
each engine and precision and each architecture asked for (--arch resnet18,resnet50,...), then
all of them side by side (the measurements are pigeonhole.core.bench.suite's)."""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

from pigeonhole.core.errors import PigeonholeError
from pigeonhole.core.fileio import (
    check_output_file,
    data_dir,
    write_text_atomic,
    write_with_fallback,
)

from .output import printable


def run(args) -> int:
    """Numbers were range-checked when parsed; ``--json`` is checked before any timing."""
    json_path = check_output_file(args.json, "--json") if args.json else None
    from pigeonhole.core.bench.suite import run_bench

    from .preprocessing import choice

    preprocessing = choice(args)
    archs = [a.strip() for a in args.arch.split(",") if a.strip()]
    if not archs:
        raise PigeonholeError("--arch needs at least one architecture name.")
    if args.checkpoint and len(archs) > 1:
        raise PigeonholeError("--checkpoint goes with one --arch (the checkpoint's).")
    results = []
    for arch in archs:
        results.append(
            run_bench(
                folder=args.folder,
                arch=arch,
                checkpoint=args.checkpoint,
                device=args.device,
                precision=args.precision,
                batch_size=args.batch_size,
                workers=args.workers,
                images=args.images,
                decode=args.decode,
                preprocessing=preprocessing,
                engine=args.engine,
                formats=not args.no_formats and arch == archs[0],
                keep_repeats=args.keep,
                classes=args.classes,
            )
        )
        print()
    print(side_by_side(results))
    if json_path is not None:
        data = [r.to_dict() for r in results]
        text = json.dumps(data[0] if len(data) == 1 else data, indent=2) + "\n"
        saved = write_with_fallback(
            json_path,
            lambda path: write_text_atomic(path, text),
            [Path.cwd, lambda: data_dir() / "results"],
        )
        if saved.fell_back:
            print(
                f"pigeonhole: could not write {printable(str(json_path))} ({saved.problem}); "
                f"the figures went to {printable(str(saved.path))} instead",
                file=sys.stderr,
            )
            return 1
    return 0


def side_by_side(results) -> str:
    """Every architecture's rows in one table (images/s; agreement with the torch fp32 loop)."""
    head = (f"{'architecture':<20} {'engine':<12} {'prec':<5} {'naive':>7} {'model':>7} "
            f"{'pipeline':>8} {'of model':>8} {'x naive':>7} {'top-1 =':>7}")  # fmt: skip
    lines = [head, "-" * len(head)]
    for r in results:
        for row in r.rows:
            agree = row["top1_identical_pct"]
            lines.append(
                f"{r.arch:<20} {row['engine']:<12} {row['precision']:<5} {r.naive_ips:7.1f} "
                f"{row['model_only_ips']:7.1f} {row['pipeline_ips']:8.1f} "
                f"{row['pipeline_vs_model_only']:8.0%} {row['pipeline_vs_naive']:6.2f}x "
                f"{agree:6.1f}%"
            )
    lines.append("(images/s; top-1 = agreement with the naive torch fp32 loop on the same images)")
    kept = [(r.arch, row) for r in results for row in r.keep]
    if kept:
        lines += ["", kept_table(kept)]
    return "\n".join(lines)


def kept_table(kept) -> str:
    """The --keep rows: the run with maps and embeddings kept against the run without."""
    head = (f"{'architecture':<20} {'engine':<12} {'prec':<5} {'classes':>7} {'without':>8} "
            f"{'with':>8} {'ratio':>7} {'best':>7} {'cpu':>7} {'KB/img':>7} {'MB/50k':>7} load")  # fmt: skip
    lines = [head, "-" * len(head)]
    for arch, row in kept:
        lines.append(
            f"{arch:<20} {row['engine']:<12} {row['precision']:<5} {row['classes']:>7} "
            f"{statistics.median(row['without_ips']):8.1f} "
            f"{statistics.median(row['with_ips']):8.1f} {row['ratio']:7.1%} {row['best_ratio']:7.1%} "
            f"{row['batch_ratio']:7.1%} "
            f"{row['bytes_per_image'] / 1000:7.2f} {row['mb_per_50k']:7.0f} "
            f"{min(row['load']):.1f}-{max(row['load']):.1f}"
        )
    lines.append("(maps + embeddings kept: images/s of the run with them and without, median "
                 "of interleaved repeats; ratio = median of the repeats' ratios; best = fastest with / "
                 "fastest without; cpu = one batch's forward + keeping, processor time, the steady "
                 "figure on a shared machine)")  # fmt: skip
    return "\n".join(lines)
