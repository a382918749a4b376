"""`pigeonhole` command line: argparse front end for every subcommand.

No arguments opens the window. Subcommand implementations live in ``pigeonhole.commands.*`` and are
imported only when used, so `pigeonhole models` never pays for Qt and `gui` pays for torch only
when it needs it.
"""

from __future__ import annotations

import logging
import multiprocessing
import re
import sys

from pigeonhole.core.errors import PigeonholeError, UntrustedCheckpointError

from .commands import preprocessing
from .parser import build_parser


def _command(name: str):
    """The subcommand's module, imported only when it runs (`models` never pays for Qt, and
    argument errors never pay for torch)."""
    if name == "models":
        from .commands import models as command
    elif name == "predict":
        from .commands import predict as command
    elif name == "predict-cluster":
        from .commands import predict_cluster as command
    elif name == "train":
        from .commands import train as command
    elif name == "export":
        from .commands import export as command
    elif name == "duplicates":
        from .commands import duplicates as command
    elif name == "audit":
        from .commands import audit as command
    elif name == "explain":
        from .commands import explain as command
    else:
        from .commands import bench as command
    return command


def main(argv: list[str] | None = None) -> int:
    """Run the command line; ``argv`` None means this process is ``pigeonhole`` itself (the
    console script, ``python -m pigeonhole``), which then ends the process as soon as a
    command other than the window is done (see :func:`exit_without_teardown`)."""
    multiprocessing.freeze_support()
    _ensure_streams()
    parser = build_parser()
    try:
        args = parser.parse_args(_attach_negative_lists(sys.argv[1:] if argv is None else argv))
    except SystemExit as e:  # a bad argument (one line already printed), --help, --version
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
    configure_terminal_logging(args.verbose)
    code = _run(args)
    if argv is None and args.command not in (None, "gui") and not args.self_test:
        exit_without_teardown(code)
    return code


def configure_terminal_logging(verbose: bool) -> None:
    """Warnings and errors on stderr (INFO too with ``--verbose``)."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    # Pillow logs what it meets in odd files at ERROR (e.g. "More samples per pixel than can be
    # decoded"); the file becomes a failed row with its reason, so that is noise here.
    logging.getLogger("PIL").setLevel(logging.INFO if verbose else logging.CRITICAL)


def _run(args) -> int:
    try:
        if args.self_test:
            from . import selftest

            if args.report:
                from pigeonhole.core.fileio import check_output_file

                check_output_file(args.report, "--report")

            return selftest.run(report=args.report)
        if args.command in (None, "gui"):
            from pigeonhole.gui.app import run_gui  # imported lazily: other commands never need Qt

            return run_gui(args if args.command == "gui" else None)
        name = args.command
        if name == "predict" and args.cluster:
            name = "predict-cluster"
        return int(_command(name).run(args) or 0)
    except PigeonholeError as e:
        hint = ""
        if isinstance(e, UntrustedCheckpointError) and "--trust-checkpoint" not in str(e):
            hint = " If you trust this file, add --trust-checkpoint."
        print(f"pigeonhole: error: {e}{hint}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `pigeonhole models | head`
        sys.stderr = open(__import__("os").devnull, "w")  # noqa: SIM115
        return 0
    except KeyboardInterrupt:
        print("pigeonhole: interrupted", file=sys.stderr)
        return 130


_NUMBER_LIST = re.compile(r"-[\d.][\d.,eE+-]*")


def _attach_negative_lists(argv: list[str]) -> list[str]:
    """``--range -1,1`` as ``--range=-1,1``: argparse takes "-1,1" for an option otherwise
    (only a plain negative number passes as a value)."""
    out: list[str] = []
    it = iter(argv)
    for arg in it:
        if arg in preprocessing.NUMBER_LIST_OPTIONS:
            value = next(it, None)
            if value is not None and _NUMBER_LIST.fullmatch(value):
                out.append(f"{arg}={value}")
                continue
            out.append(arg)
            if value is not None:
                out.append(value)
            continue
        out.append(arg)
    return out


def exit_without_teardown(code: int) -> None:
    """End the process now that a command is done: flush the output and the logs, then leave
    without Python's interpreter teardown, which spends 0.5-2 s unloading torch's thousands of
    modules after the work is over (measured: benchmarks/bench_startup.py). Every file the
    commands write is complete by then (atomic writes, fsynced)."""
    import os

    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can be said there
            pass
    logging.shutdown()
    os._exit(code)


def _ensure_streams() -> None:
    """A windowed frozen build has no console: sys.stdout/stderr are None there."""
    import os

    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115


if __name__ == "__main__":
    sys.exit(main())
