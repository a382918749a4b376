"""`pigeonhole export CHECKPOINT --format onnx|torchscript --out FILE`: the model, its class
names and its preprocessing in one file other tools can run, checked against PyTorch."""

from __future__ import annotations

import sys
from pathlib import Path

from pigeonhole.core.errors import PigeonholeError
from pigeonhole.core.fileio import check_output_file

from . import model_source, print_preprocessing
from .output import printable


def default_out(stem: str, suffix: str, folder: Path | None = None) -> Path:
    """``<stem><suffix>`` in the current folder, never replacing a file (``<stem>-2<suffix>``...
    when taken: the command says where it wrote)."""
    folder = folder or Path.cwd()
    path, n = folder / f"{stem}{suffix}", 2
    while path.exists():
        path, n = folder / f"{stem}-{n}{suffix}", n + 1
    return path


def run(args) -> int:
    from pigeonhole.core.models.checkpoints import load_model
    from pigeonhole.core.runtime.network_export import FORMATS, export_format, export_model

    source = model_source(args)
    if not source.is_file and not source.arch:
        raise PigeonholeError("Choose a model: a checkpoint file, or --arch NAME --pretrained.")
    stem = Path(source.checkpoint).stem if source.is_file else source.arch
    if args.out:
        fmt = export_format(args.out, args.format)
        out = check_output_file(args.out, "--out", (FORMATS[fmt],))  # before any work
        if out.exists() and not args.force:
            raise PigeonholeError(
                f"{printable(str(out))} exists: add --force to replace it, or choose another --out."
            )
    else:
        fmt = args.format or "onnx"
        out = check_output_file(default_out(stem, FORMATS[fmt]), "--out", (FORMATS[fmt],))
    loaded = load_model(source)
    print_preprocessing(loaded, sys.stderr)
    print(
        f"pigeonhole: exporting {loaded.arch} ({loaded.names_line()}) as {fmt}...", file=sys.stderr
    )
    report = export_model(loaded, fmt, out)
    print(f"pigeonhole: {printable(report.line())}", file=sys.stderr)
    wanted = out.with_name(f"{stem}{out.suffix}") if not args.out else out
    if wanted != out:
        print(
            f"pigeonhole: {printable(wanted.name)} exists, so the export is "
            f"{printable(str(out))} (nothing was replaced)",
            file=sys.stderr,
        )
    return 0
