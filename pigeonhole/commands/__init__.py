"""The subcommands of `pigeonhole`: each module has ``run(args) -> exit code``."""

from pigeonhole.core.errors import PigeonholeError


def model_source(args):
    """The ModelSource the model options describe: --checkpoint (with --arch as a hint), or
    --arch's ImageNet weights (--pretrained says so explicitly); with the preprocessing options
    (checked here, before anything loads)."""
    from pigeonhole.core.models.checkpoints import ModelSource

    from .preprocessing import choice

    if getattr(args, "pretrained", False) and not args.arch:
        raise PigeonholeError("--pretrained needs --arch NAME (see `pigeonhole models`).")
    return ModelSource(
        checkpoint=getattr(args, "checkpoint", None) or None,
        arch=args.arch or None,
        classes_file=getattr(args, "classes", None) or None,
        trust=bool(getattr(args, "trust_checkpoint", False)),
        preprocessing=choice(args),
    )


def print_preprocessing(loaded, stream) -> None:
    """The loaded model's preprocessing as the first line of a run (stderr), with a hint when
    it was only recognised or assumed; then the other loading notes."""
    guessed = loaded.transform_origin.kind in ("convention", "assumed")
    hint = " (--preprocess to change)" if guessed else ""
    print(f"pigeonhole: {loaded.preprocessing_line()}{hint}", file=stream)
    for note in loaded.notes:
        print(f"pigeonhole: {note}", file=stream)
