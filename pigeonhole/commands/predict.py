"""`pigeonhole predict PATH...`: classify images and folders, stream results, write CSV/JSON.

stdout gets one tab-separated line per image (path, label, confidence or the error) unless
``--out`` is given; stderr gets the progress bar (on a terminal) and the summary line.
Exit 0 when the run completed (skipped files included), 2 on errors, 130 when interrupted.
"""

from __future__ import annotations

import logging
import sys
import threading
import time

from pigeonhole.core.errors import PigeonholeError
from pigeonhole.core.tasks import run_to_end

from . import model_source

log = logging.getLogger(__name__)


class ProgressBar:
    """A one-line progress bar on a terminal's stderr, redrawn at most 10 times a second."""

    def __init__(self, stream, enabled: bool, width: int = 28):
        self.stream, self.enabled, self.width = stream, enabled, width
        self.start = time.perf_counter()
        self._last = 0.0
        self._shown = False

    def update(self, done: int, total: int | None, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if not force and now - self._last < 0.1:
            return
        self._last = now
        elapsed = max(now - self.start, 1e-9)
        rate = done / elapsed
        if total:
            frac = min(1.0, done / total)
            filled = int(frac * self.width)
            eta = (total - done) / rate if rate > 0 else 0
            bar = "#" * filled + "." * (self.width - filled)
            text = (
                f"[{bar}] {done}/{total} {rate:5.1f} img/s ETA {int(eta) // 60}:{int(eta) % 60:02d}"
            )
        else:
            text = f"{done} images ({rate:.1f} img/s), still listing files..."
        self.stream.write("\r" + text.ljust(72))
        self.stream.flush()
        self._shown = True

    def close(self) -> None:
        if self._shown:
            self.stream.write("\r" + " " * 72 + "\r")
            self.stream.flush()


def run(args) -> int:
    from pigeonhole.core.export import results_format, write_results
    from pigeonhole.core.inference import Classifier
    from pigeonhole.core.models.checkpoints import load_model

    if args.out:
        results_format(args.out)  # a bad suffix fails now, not after an hour of work
    if args.topk < 1:
        raise PigeonholeError("--topk must be at least 1.")
    source = model_source(args)
    if not source.is_file and not source.arch:
        raise PigeonholeError(
            "Choose a model: --checkpoint FILE, or --arch NAME for its ImageNet weights."
        )
    loaded = load_model(source)
    for note in loaded.notes:
        print(f"pigeonhole: {note}", file=sys.stderr)
    clf = Classifier(
        loaded,
        device=args.device,
        precision=args.precision,
        batch_size=args.batch_size,
        workers=args.workers,
        decode=args.decode,
        topk=args.topk,
        draft=not args.no_draft,
        engine=args.engine,
        calibration=args.paths,
        on_stage=lambda text: print(f"pigeonhole: {text}...", file=sys.stderr, flush=True),
    )
    log.info("model %s from %s; %s", loaded.arch, loaded.source, clf.plan.describe())
    if clf.engine_note:  # int8's measured agreement, or why ONNX Runtime is not used: first
        print(f"pigeonhole: {clf.engine_note}", file=sys.stderr, flush=True)
    stderr = sys.stderr
    bar = ProgressBar(stderr, enabled=not args.quiet and _isatty(stderr))
    stop = threading.Event()
    keep = [] if args.out else None
    out = sys.stdout
    gen = clf.run(args.paths, should_stop=stop, progress=bar.update)
    summary = None
    interrupted = False

    def take(batch) -> None:
        if keep is not None:
            keep.extend(batch.predictions)
        else:
            bar.close()
            for p in batch.predictions:
                if p.ok:
                    out.write(f"{p.path}\t{p.label}\t{p.confidence:.4f}\n")
                else:
                    out.write(f"{p.path}\t-\terror: {p.error}\n")
            out.flush()
        bar.update(batch.done, batch.total)

    try:
        summary = run_to_end(gen, take)
    except KeyboardInterrupt:
        # Finish cleanly: stop the pipeline, keep what was classified, then say so.
        interrupted = True
        stop.set()
        try:
            for batch in gen:
                if keep is not None:
                    keep.extend(batch.predictions)
        except KeyboardInterrupt:
            gen.close()
        summary = clf.summary
    finally:
        bar.close()
    if args.out and keep is not None and (keep or summary is not None):
        write_results(args.out, keep, summary, topk=clf.topk)
        print(f"pigeonhole: wrote {len(keep)} results to {args.out}", file=stderr)
    if summary is not None:
        print(summary.line(), file=stderr)
        for err in getattr(summary, "scan_errors", ())[:5]:
            print(f"pigeonhole: warning: {err}", file=stderr)
    if interrupted:
        print("pigeonhole: interrupted", file=stderr)
        return 130
    return 0


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
