"""`pigeonhole bench [FOLDER]`: model-only vs full pipeline vs the naive loop, in one run
(the measurements are pigeonhole.core.bench's)."""

from __future__ import annotations

import json

from pigeonhole.core.errors import PigeonholeError
from pigeonhole.core.fileio import write_text_atomic


def run(args) -> int:
    from pigeonhole.core.bench import run_bench

    from .preprocessing import choice

    if args.images < 0:
        raise PigeonholeError("--images must be 0 (automatic) or more.")
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
    if args.json:
        write_text_atomic(args.json, json.dumps(res.to_dict(), indent=2) + "\n")
    return 0
