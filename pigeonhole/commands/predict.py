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
from pigeonhole.core.tasks import format_duration, run_to_end

from . import model_source, print_preprocessing, run_options
from .output import isatty, printable, tsv_line
from .predict_kept import KeptWriter, check_kept_outputs, kept_request

log = logging.getLogger(__name__)


class ProgressBar:
    """A one-line progress bar on a terminal's stderr, redrawn at most 10 times a second; or,
    with ``lines`` (stderr is a log or a pipe), a plain line every ``every_s`` seconds: images
    done of the total, the rate, the failed ones."""

    def __init__(
        self, stream, enabled: bool, width: int = 28, lines: bool = False, every_s: float = 10.0
    ):
        self.stream, self.enabled, self.width = stream, enabled, width
        self.lines, self.every_s = lines, every_s
        self.start = time.perf_counter()
        self._last = 0.0 if not lines else self.start
        self._shown = False

    def update(self, done: int, total: int | None, force: bool = False, failed: int = 0) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if not force and now - self._last < (self.every_s if self.lines else 0.1):
            return
        self._last = now
        elapsed = max(now - self.start, 1e-9)
        rate = done / elapsed
        if self.lines:
            share = f" ({100 * done / total:.0f} %)" if total else ""
            self.stream.write(
                f"pigeonhole: {done}{f'/{total}' if total else ''} images{share}, "
                f"{rate:.1f} images/s, {failed} failed\n"
            )
            self.stream.flush()
            return
        failures = f" {failed} failed" if failed else ""
        if total:
            frac = min(1.0, done / total)
            filled = int(frac * self.width)
            eta = (total - done) / rate if rate > 0 else 0
            bar = "#" * filled + "." * (self.width - filled)
            text = f"[{bar}] {done}/{total} {rate:5.1f} img/s ETA {format_duration(eta)}{failures}"
        else:
            text = f"{done} images ({rate:.1f} img/s), still listing files...{failures}"
        self.stream.write("\r" + text.ljust(72))
        self.stream.flush()
        self._shown = True

    def close(self) -> None:
        if self._shown:
            self.stream.write("\r" + " " * 72 + "\r")
            self.stream.flush()
            self._shown = False


def run(args) -> int:
    """Check the paths and --out, load the model, plan the run, classify, write, report."""
    from pigeonhole.core.results.writing import FORMATS

    # Bad input fails now, not after the model loaded or an hour of work (numbers were checked
    # when parsed).
    out_path = check_output_file(args.out, "--out", FORMATS) if args.out else None
    if args.include_skipped and out_path is None:
        raise PigeonholeError("--include-skipped adds rows to --out FILE: give --out too.")
    check_sources(args.paths)
    explain_dir, features = check_kept_outputs(args)
    if args.leaks:
        if not args.evaluate:
            raise PigeonholeError("--leaks goes with --evaluate (it compares against the truth).")
        check_sources([args.leaks])
    loaded, clf = prepare(args)
    run = PredictRun(args, loaded, clf)
    if explain_dir is not None or features is not None:
        run.kept_writer = KeptWriter(loaded, explain_dir, features)
    run.classify()
    if run.kept_writer is not None:
        run.kept_writer.finish()
    code = run.write(out_path) if out_path is not None else 0
    run.report()
    if run.interrupted:
        print("pigeonhole: interrupted", file=sys.stderr)
        return 130
    return code


def check_sources(paths) -> None:
    """Every path given exists (a folder or a file): said before the model loads."""
    missing = [p for p in paths if not Path(p).exists()]
    if missing:
        names = ", ".join(printable(str(p)) for p in missing[:3])
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        raise PigeonholeError(f"No such file or folder: {names}{more}.")


def prepare(args):
    """The model and its Classifier: the plan first, so a bad device/decode/engine choice is
    the only line printed; then what the model is (its preprocessing: the run's first line),
    then the engine's preparation (ONNX export, int8 calibration) and its note. An ONNX model,
    or a checkpoint whose export is cached, runs without importing torch (load_for_run)."""
    from pigeonhole.core.runtime.inference import Classifier
    from pigeonhole.core.runtime.loading import load_for_run
    from pigeonhole.core.runtime.plan import plan_run

    source = model_source(args)
    if not source.is_file and not source.arch:
        raise PigeonholeError(
            "Choose a model: --checkpoint FILE, or --arch NAME for its ImageNet weights."
        )
    options = run_options(args)
    keep = kept_request(args)
    loaded = load_for_run(source, options, keep=keep)
    plan = plan_run(loaded.arch, options, onnx_model=loaded.is_onnx)
    print_preprocessing(loaded, sys.stderr)
    clf = Classifier(
        loaded,
        plan,
        topk=args.topk,
        draft=not args.no_draft,
        calibration=args.paths,
        on_stage=lambda text: print(f"pigeonhole: {text}...", file=sys.stderr, flush=True),
        keep=keep,
    )
    log.info("model %s from %s; %s", loaded.arch, loaded.source, clf.plan.describe())
    if clf.engine_note:  # int8's measured agreement, or why ONNX Runtime is not used: first
        print(f"pigeonhole: {clf.engine_note}", file=sys.stderr, flush=True)
    return loaded, clf


class PredictRun:
    """One predict run's results as they come: a TSV line per image on stdout (without
    --out), kept rows for --out, and the evaluation's tally (with --evaluate). ``clf`` runs it
    (a Classifier, or anything with its ``run``, ``summary`` and ``topk``: a cluster's run);
    ``loaded`` names the classes; ``bar`` shows the progress (default: a terminal's bar)."""

    def __init__(self, args, loaded, clf, bar: ProgressBar | None = None):
        from pigeonhole.core.results.evaluation import EvaluationTally, GroundTruth

        self.args, self.loaded, self.clf = args, loaded, clf
        self.truth = GroundTruth(loaded.class_names, args.paths) if args.evaluate else None
        self.tally = EvaluationTally(loaded.class_names) if args.evaluate else None
        self.kept: list = []  # (Prediction, truth) with --out
        self.evaluated: list = []  # (path, label, truth) with --leaks
        self.keep_rows = bool(args.out)  # kept for one file written at the end
        self.failed = 0
        self.summary = None
        self.interrupted = False
        self.bar = bar or ProgressBar(sys.stderr, enabled=not args.quiet and isatty(sys.stderr))
        self.kept_writer = None  # --explain / --features (predict_kept)

    def classify(self) -> None:
        from pigeonhole.core.results.evaluation import labelled_batches

        stop = threading.Event()
        gen = labelled_batches(
            self.clf.run(self.args.paths, should_stop=stop, progress=self.bar.update),
            self.truth,
        )
        try:
            self.summary = run_to_end(gen, self._take)
        except KeyboardInterrupt:
            # Finish cleanly: stop the pipeline, keep what was classified, then say so.
            self.interrupted = True
            stop.set()
            try:
                for batch in gen:
                    self._keep(batch)
            except KeyboardInterrupt:
                gen.close()
            self.summary = self.clf.summary
        finally:
            self.bar.close()

    def _keep(self, batch) -> None:
        pairs = list(zip(batch.predictions, batch.truths, strict=True))
        self.failed += sum(not p.ok for p, _t in pairs)
        if self.tally is not None:
            for p, t in pairs:
                self.tally.add(p.path, p.label if p.ok else None, t)
                if self.args.leaks:
                    self.evaluated.append((p.path, p.label if p.ok else None, t))
        if self.keep_rows:
            self.kept.extend(pairs)
        if self.kept_writer is not None:
            self.kept_writer.take(batch.predictions)
        return pairs

    def _take(self, batch) -> None:
        pairs = self._keep(batch)
        if not self.args.out:
            self.bar.close()
            out = sys.stdout
            for p, t in pairs:
                known = (t or "-",) if self.truth is not None else ()
                result = (p.label, f"{p.confidence:.4f}") if p.ok else ("-", f"error: {p.error}")
                out.write(tsv_line((p.path, *result, *known)))
            out.flush()
        self.bar.update(batch.batch.done, batch.batch.total, failed=self.failed)

    def write(self, out_path: Path) -> int:
        """The kept rows to --out (or, if it turned bad, the current folder...): 1 if they went
        elsewhere."""
        from pigeonhole.core.results.writing import ExportRow, write_results

        if not self.kept and self.summary is None:
            return 0
        truth = self.truth is not None
        self.kept.sort(key=lambda pair: pair[0].index)  # listing order (a cluster's come mixed)
        rows = [ExportRow(p, true_label=t) if truth else p for p, t in self.kept]
        report = self.tally.report() if self.tally is not None else None
        extra = {"evaluation": report.to_dict() if report else None} if truth else None
        skipped = None
        if self.args.include_skipped:
            skipped = self.summary.skipped_files() if self.summary is not None else []
        saved = write_with_fallback(
            out_path,
            lambda path: write_results(
                path, rows, self.summary, topk=self.clf.topk, extra=extra, skipped=skipped
            ),
            [Path.cwd, lambda: data_dir() / "results"],
        )
        code = 0
        if saved.fell_back:
            print(
                f"pigeonhole: could not write {printable(str(out_path))} ({saved.problem}); "
                f"the results went to {printable(str(saved.path))} instead",
                file=sys.stderr,
            )
            code = 1
        also = f" and {len(skipped)} skipped files" if skipped else ""
        print(
            f"pigeonhole: wrote {len(rows)} results{also} to {printable(str(saved.path))}",
            file=sys.stderr,
        )
        return code

    def report(self) -> None:
        stderr = sys.stderr
        if self.summary is not None:
            print(self.summary.line(), file=stderr)
            _print_skipped(self.summary, self.args.list_skipped, stderr)
            for err in getattr(self.summary, "scan_errors", ())[:5]:
                print(f"pigeonhole: warning: {printable(err)}", file=stderr)
            for warning in self.summary.warnings:
                print(f"pigeonhole: warning: {warning}", file=stderr)
        leaks = self._leaks() if self.args.leaks else None
        if leaks is not None:
            print_leaks(leaks, self.args.leaks, stderr)
        if self.tally is not None:
            _print_evaluation(self.tally.report(), self.loaded.class_names, stderr)
        if leaks is not None and leaks.leaks:
            line = leaks.without.line() if leaks.without else "no image left with a class folder"
            print(f"pigeonhole: evaluation without the leaked images: {line}", file=stderr)

    def _leaks(self):
        from pigeonhole.core.insight.leaks import check_leaks

        return check_leaks(self.evaluated, self.loaded.class_names, self.args.leaks)


def print_leaks(report, train_folder: str, stream) -> None:
    """Say which evaluated images are copies of training images (before the accuracy, which
    they inflate)."""
    leaks = report.leaks
    print(
        f"pigeonhole: leaks: {len(leaks)} of {report.checked} evaluated images are copies "
        f"of images in {printable(train_folder)} ({report.exact} exact, "
        f"{len(leaks) - report.exact} edited)",
        file=stream,
    )
    for leak in leaks[:10]:
        print(
            f"pigeonhole:   {printable(leak.path)} = {printable(leak.train_path)} "
            f"({leak.kind}{f', {leak.distance} bits' if leak.kind == 'near' else ''})",
            file=stream,
        )
    if len(leaks) > 10:
        print(f"pigeonhole:   ... and {len(leaks) - 10} more", file=stream)


def _print_skipped(summary, list_them: bool, stream) -> None:
    """What the listing skipped, a line per reason; with --list-skipped each file under its
    reason (hidden files and resource forks too)."""
    for line in summary.skipped_lines():
        print(f"pigeonhole: {line}", file=stream)
    if not list_them:
        if summary.skipped_groups:
            print("pigeonhole: --list-skipped names the skipped files", file=stream)
        return
    for group in summary.skipped_groups:
        print(f"{group.text}:", file=stream)
        for path in group.paths:
            print(f"  {printable(path)}", file=stream)
        if len(group.paths) < group.count:
            print(f"  ... and {group.count - len(group.paths):,} more", file=stream)


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
