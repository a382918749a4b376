"""`pigeonhole audit FOLDER --checkpoint CK`: the images of a labelled folder (one sub-folder
per class) most likely to carry the wrong label, most suspect first.

Each image is judged by a classification layer that never saw it (k-fold heads on the
network's cached features), and confident learning decides which are likely label issues
(core.insight.audit). stdout gets one tab-separated line per image (path, given label,
suggested label, score) unless ``--out suspects.csv`` is given; stderr gets the stages and the
first suspects."""

from __future__ import annotations

import sys
import threading

from pigeonhole.core.errors import PigeonholeError
from pigeonhole.core.fileio import check_output_file, write_text_atomic
from pigeonhole.core.tasks import run_to_end

from . import model_source, print_preprocessing, run_options
from .output import csv_text, printable, tsv_line
from .predict import check_sources

COLUMNS = ("path", "given_label", "suggested_label", "score")


def run(args) -> int:
    from pigeonhole.core.insight.audit import AuditStage, audit_labels
    from pigeonhole.core.models.checkpoints import load_model

    out = check_output_file(args.out, "--out", (".csv",)) if args.out else None
    check_sources([args.folder])
    source = model_source(args)
    if not source.is_file and not source.arch:
        raise PigeonholeError(
            "Choose the network that judges the images: --checkpoint FILE, or --arch NAME "
            "--pretrained."
        )
    base = load_model(source)
    print_preprocessing(base, sys.stderr)
    stop = threading.Event()

    def say(record) -> None:
        if isinstance(record, AuditStage):
            print(f"pigeonhole: {record.text}...", file=sys.stderr, flush=True)

    try:
        report = run_to_end(
            audit_labels(base, args.folder, run_options(args), folds=args.folds, should_stop=stop),
            say,
        )
    except KeyboardInterrupt:
        stop.set()
        print("pigeonhole: interrupted", file=sys.stderr)
        return 130
    rows = [(s.path, s.given_label, s.suggested_label, f"{s.score:.4f}") for s in report.ranking]
    if out is not None:
        write_text_atomic(out, csv_text(COLUMNS, rows))
        print(f"pigeonhole: wrote {len(rows)} rows to {printable(str(out))}", file=sys.stderr)
    else:
        for row in rows:
            sys.stdout.write(tsv_line(row))
    flagged = report.flagged
    print(
        f"pigeonhole: {len(flagged)} of {len(rows)} images are likely mislabelled "
        f"({len(report.classes)} classes, {args.folds}-fold out-of-sample)",
        file=sys.stderr,
    )
    for s in flagged[:10]:
        print(
            f"pigeonhole:   {printable(s.path)}: labelled {printable(s.given_label)}, "
            f"looks like {printable(s.suggested_label)} ({s.score:.2f})",
            file=sys.stderr,
        )
    for path, reason in report.skipped[:5]:
        print(f"pigeonhole: warning: {printable(path)}: {printable(reason)}", file=sys.stderr)
    return 0
