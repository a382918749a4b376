"""`pigeonhole duplicates FOLDER... [--checkpoint CK]`: groups of the same photo (exact copies
and edited ones: resized, recompressed, cropped a little, colour-shifted), found without a
model; with one, images whose embeddings (the vectors its classification layer sees, through
the feature cache) are within ``--embedding-distance`` join them (kind "similar", ``distance``
then the cosine distance), through the same core function as the app's "Near duplicates".

stdout gets one tab-separated line per image in a group (group, path, kind, distance) unless
``--out groups.csv`` is given; stderr gets the progress and the summary. ``kind`` is "keep" (the
group's largest image), "exact" (the same bytes) or "near" (``distance``: bits of the 64-bit
perceptual hash that differ from the kept image's)."""

from __future__ import annotations

import sys
import threading
from collections import Counter

import numpy as np

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

from . import model_source, print_preprocessing, run_options
from .output import csv_text, isatty, printable, tsv_line
from .predict import ProgressBar, check_sources

COLUMNS = ("group", "path", "kind", "distance")


def run(args) -> int:
    out = check_output_file(args.out, "--out", (".csv",)) if args.out else None
    check_sources(args.paths)
    source = model_source(args) if has_model(args) else None  # checked before any work
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
    embeddings = embeddings_of(source, args, hashes, stop) if source else None
    groups = find_duplicates(hashes, args.threshold, embeddings, args.embedding_distance, stop)
    rows = list(group_rows(groups))
    if out is not None:
        write_text_atomic(out, csv_text(COLUMNS, rows))
        print(f"pigeonhole: wrote {len(rows)} rows to {printable(str(out))}", file=sys.stderr)
    else:
        for row in rows:
            sys.stdout.write(tsv_line(row))
    say_summary(len(hashes), groups, args)
    for f in failed[:5]:
        print(f"pigeonhole: warning: {printable(f.path)}: {printable(f.error)}", file=sys.stderr)
    if len(failed) > 5:
        print(f"pigeonhole: warning: {len(failed) - 5} more unreadable files", file=sys.stderr)
    return 0


def group_rows(groups: list[DuplicateGroup]):
    for n, group in enumerate(groups, 1):
        for m in group.members:
            yield (n, m.path, m.kind, m.distance)


def say_summary(images: int, groups: list[DuplicateGroup], args) -> None:
    kinds = Counter(m.kind for g in groups for m in g.copies)
    copies = sum(kinds.values())
    similar = f", {kinds['similar']} by embedding" if has_model(args) else ""
    print(
        f"pigeonhole: {images} images, {len(groups)} groups of duplicates: {copies} copies "
        f"({kinds['exact']} exact, {kinds['near']} near{similar}, threshold "
        f"{args.threshold} bits)",
        file=sys.stderr,
    )


def has_model(args) -> bool:
    return bool(getattr(args, "checkpoint", None) or getattr(args, "arch", None))


def embeddings_of(source, args, hashes: list[ImageHash], stop) -> np.ndarray:
    """(len(hashes), D) embeddings of the hashed images from the model the options name (a
    row of zeros for an image the network could not read: it joins no group by embedding)."""
    from pigeonhole.core.insight.embeddings import extract_embeddings
    from pigeonhole.core.models.checkpoints import load_model
    from pigeonhole.core.tasks import run_to_end

    base = load_model(source)
    print_preprocessing(base, sys.stderr)
    print(f"pigeonhole: embeddings of {len(hashes)} images...", file=sys.stderr, flush=True)
    files = [h.path for h in hashes]
    output = run_to_end(extract_embeddings(base, files, run_options(args), should_stop=stop))
    features = output.features.reshape(len(output.jobs), -1).numpy()
    out = np.zeros((len(hashes), features.shape[1]), dtype=np.float32)
    out[[j.index for j in output.jobs]] = features
    return out
