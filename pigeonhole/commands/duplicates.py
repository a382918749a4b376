"""`pigeonhole duplicates FOLDER...`: groups of the same photo (exact copies and edited ones:
resized, recompressed, cropped a little, colour-shifted), found without a model.

stdout gets one tab-separated line per image in a group (group, path, kind, distance) unless
``--out groups.csv`` is given; stderr gets the progress and the summary. ``kind`` is "keep" (the
group's largest image), "exact" (the same bytes) or "near" (``distance``: bits of the 64-bit
perceptual hash that differ from the kept image's)."""

from __future__ import annotations

import sys
import threading

from pigeonhole.core.data.listing import iter_image_files
from pigeonhole.core.errors import PigeonholeError
from pigeonhole.core.fileio import check_output_file, write_text_atomic
from pigeonhole.core.insight.duplicates import (
    DuplicateGroup,
    HashFailure,
    ImageHash,
    find_duplicates,
    hash_files,
)

from .output import csv_text, isatty, printable, tsv_line
from .predict import ProgressBar, check_sources

COLUMNS = ("group", "path", "kind", "distance")


def run(args) -> int:
    out = check_output_file(args.out, "--out", (".csv",)) if args.out else None
    check_sources(args.paths)
    files = list(iter_image_files(args.paths))
    if not files:
        raise PigeonholeError("No images found in " + ", ".join(map(str, args.paths[:3])) + ".")
    bar = ProgressBar(sys.stderr, enabled=not args.quiet and isatty(sys.stderr))
    stop = threading.Event()
    hashes: list[ImageHash] = []
    failed: list[HashFailure] = []
    try:
        for h in hash_files(files, stop, progress=lambda n: bar.update(n, len(files))):
            (hashes if isinstance(h, ImageHash) else failed).append(h)
    except KeyboardInterrupt:
        stop.set()
        bar.close()
        print("pigeonhole: interrupted", file=sys.stderr)
        return 130
    finally:
        bar.close()
    groups = find_duplicates(hashes, args.threshold)
    rows = list(group_rows(groups))
    if out is not None:
        write_text_atomic(out, csv_text(COLUMNS, rows))
        print(f"pigeonhole: wrote {len(rows)} rows to {printable(str(out))}", file=sys.stderr)
    else:
        for row in rows:
            sys.stdout.write(tsv_line(row))
    copies = sum(len(g.copies) for g in groups)
    exact = sum(m.kind == "exact" for g in groups for m in g.copies)
    print(
        f"pigeonhole: {len(hashes)} images, {len(groups)} groups of duplicates: {copies} "
        f"copies ({exact} exact, {copies - exact} near, threshold {args.threshold} bits)",
        file=sys.stderr,
    )
    for f in failed[:5]:
        print(f"pigeonhole: warning: {printable(f.path)}: {printable(f.error)}", file=sys.stderr)
    if len(failed) > 5:
        print(f"pigeonhole: warning: {len(failed) - 5} more unreadable files", file=sys.stderr)
    return 0


def group_rows(groups: list[DuplicateGroup]):
    for n, group in enumerate(groups, 1):
        for m in group.members:
            yield (n, m.path, m.kind, m.distance)
