"""`pigeonhole bench [FOLDER]`: model-only vs full pipeline vs the naive loop, in one run
(the measurements are pigeonhole.core.bench's)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

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
    from pigeonhole.core.bench import run_bench

    from .preprocessing import choice

    preprocessing = choice(args)
    res = run_bench(
        folder=args.folder,
        arch=args.arch,
        checkpoint=args.checkpoint,
        device=args.device,
        precision=args.precision,
        batch_size=args.batch_size,
        workers=args.workers,
        images=args.images,
        decode=args.decode,
        preprocessing=preprocessing,
    )
    if json_path is not None:
        text = json.dumps(res.to_dict(), indent=2) + "\n"
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
