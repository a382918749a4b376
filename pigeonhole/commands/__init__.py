"""The subcommands of `pigeonhole`: each module has ``run(args) -> exit code``."""

from pigeonhole.core.errors import PigeonholeError

from .output import printable


def model_source(args):
    """The ModelSource the model options describe: --checkpoint (an --arch given with it must
    fit the weights, or --allow-partial loads what fits), or --arch's ImageNet weights
    (--pretrained says so explicitly); with the preprocessing options (checked here, before
    anything loads)."""
    from pigeonhole.core.models.loaded import ModelSource  # no torch: an ONNX model needs none

    from .preprocessing import choice

    if getattr(args, "pretrained", False) and not args.arch:
        raise PigeonholeError("--pretrained needs --arch NAME (see `pigeonhole models`).")
    checkpoint = getattr(args, "checkpoint", None) or None
    partial = bool(getattr(args, "allow_partial", False))
    if partial and not (checkpoint and args.arch):
        raise PigeonholeError("--allow-partial needs both --arch and --checkpoint.")
    return ModelSource.chosen(
        checkpoint,
        args.arch,
        classes=getattr(args, "classes", None),
        trust=bool(getattr(args, "trust_checkpoint", False)),
        preprocessing=choice(args),
        arch_is_demand=True,  # named on the command line: a demand
        partial=partial,
    )


def run_options(args, **fixed):
    """The RunOptions the run options describe (those a command does not have stay automatic;
    ``fixed`` overrides, e.g. a bench run's engine). Parsed once, here."""
    from pigeonhole.core.runtime.options import RunOptions

    names = ("device", "engine", "precision", "decode", "batch_size", "workers")
    given = {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}
    return RunOptions(**{**given, **fixed})


def print_preprocessing(loaded, stream) -> None:
    """The loaded model's preprocessing as the first line of a run (stderr), with a hint when
    it was only recognised or assumed; then the other loading notes."""
    guessed = loaded.transform_origin.kind in ("convention", "assumed")
    hint = " (--preprocess to change)" if guessed else ""
    print(f"pigeonhole: {printable(loaded.preprocessing_line())}{hint}", file=stream)
    for note in loaded.notes:
        print(f"pigeonhole: {printable(note)}", file=stream)
    for warning in loaded.warnings:
        print(f"pigeonhole: warning: {printable(warning)}", file=stream)
