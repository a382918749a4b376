"""`pigeonhole predict PATH...`: classify images and folders, stream results, write CSV/JSON.

stdout gets one tab-separated line per image (path, label, confidence or the error) unless
``--out`` is given; a tab or newline inside a name is escaped (``\t``, ``\n``), so there is
always exactly one line per image. stderr gets the progress bar (on a terminal) and the summary.

``--out`` is checked before the model loads. If it turns bad during the run, the results are
written to the current folder (or the app's data folder) and the message says where.
Exit 0 when the run completed (skipped files included), 1 when the results had to go elsewhere,
2 on errors, 130 when interrupted.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from pathlib import Path

from pigeonhole.core.errors import PigeonholeError
from pigeonhole.core.fileio import check_output_file, data_dir, write_with_fallback
from pigeonhole.core.tasks import run_to_end

from . import model_source, print_preprocessing
from .output import printable, tsv_line

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
    from pigeonhole.core.models.checkpoints import load_model
    from pigeonhole.core.results.evaluation import GroundTruth, evaluate
    from pigeonhole.core.results.writing import FORMATS, ExportRow, write_results
    from pigeonhole.core.runtime.inference import Classifier
    from pigeonhole.core.runtime.plan import plan_run

    # A bad --out fails now, not after an hour of work (numbers were checked when parsed).
    out_path = check_output_file(args.out, "--out", FORMATS) if args.out else None
    source = model_source(args)
    if not source.is_file and not source.arch:
        raise PigeonholeError(
            "Choose a model: --checkpoint FILE, or --arch NAME for its ImageNet weights."
        )
    loaded = load_model(source)
    # The plan first, so a bad device/decode/engine choice is the only line printed; then what
    # the model is (its preprocessing: the run's first line), then the engine's preparation.
    plan = plan_run(
        loaded.arch, args.device, args.precision, args.batch_size, args.workers, args.decode,
        engine=args.engine,
    )  # fmt: skip
    print_preprocessing(loaded, sys.stderr)
    clf = Classifier(
        loaded,
        plan=plan,
        topk=args.topk,
        draft=not args.no_draft,
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
    truth = GroundTruth(loaded.class_names, args.paths) if args.evaluate else None
    labelled: list[tuple[str, str | None]] = []  # (path, label) for the evaluation
    gen = clf.run(args.paths, should_stop=stop, progress=bar.update)
    summary = None
    interrupted = False

    def take(batch) -> None:
        if truth is not None:
            labelled.extend((p.path, p.label) for p in batch.predictions)
        if keep is not None:
            keep.extend(batch.predictions)
        else:
            bar.close()
            for p in batch.predictions:
                known = (truth.label_of(p.path) or "-",) if truth is not None else ()
                if p.ok:
                    out.write(tsv_line((p.path, p.label, f"{p.confidence:.4f}", *known)))
                else:
                    out.write(tsv_line((p.path, "-", f"error: {p.error}", *known)))
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
    report = evaluate(labelled, truth) if truth is not None else None
    code = 0
    if out_path is not None and keep is not None and (keep or summary is not None):
        rows = [ExportRow(p, true_label=truth.label_of(p.path)) for p in keep] if truth else keep
        extra = {"evaluation": report.to_dict() if report else None} if truth else None
        saved = write_with_fallback(
            out_path,
            lambda path: write_results(path, rows, summary, topk=clf.topk, extra=extra),
            [Path.cwd, lambda: data_dir() / "results"],
        )
        if saved.fell_back:
            print(
                f"pigeonhole: could not write {printable(str(out_path))} ({saved.problem}); "
                f"the results went to {printable(str(saved.path))} instead",
                file=stderr,
            )
            code = 1
        print(f"pigeonhole: wrote {len(keep)} results to {printable(str(saved.path))}", file=stderr)
    if summary is not None:
        print(summary.line(), file=stderr)
        for err in getattr(summary, "scan_errors", ())[:5]:
            print(f"pigeonhole: warning: {printable(err)}", file=stderr)
        for warning in summary.warnings:
            print(f"pigeonhole: warning: {warning}", file=stderr)
    if truth is not None:
        _print_evaluation(report, loaded.class_names, stderr)
    if interrupted:
        print("pigeonhole: interrupted", file=stderr)
        return 130
    return code


def _print_evaluation(report, class_names, stream) -> None:
    if report is None:
        names = ", ".join(class_names[:4]) + (" ..." if len(class_names) > 4 else "")
        print(
            f"pigeonhole: evaluation: no image is in a folder named like a class ({names})",
            file=stream,
        )
        return
    print(f"pigeonhole: evaluation: {report.line()}", file=stream)
    print(report.metrics.table(), file=stream)


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
