"""The subcommands of `pigeonhole`: each module has ``run(args) -> exit code``."""

from pigeonhole.core.errors import PigeonholeError


def model_source(args):
    """The ModelSource the model options describe: --checkpoint (with --arch as a hint), or
    --arch's ImageNet weights (--pretrained says so explicitly)."""
    from pigeonhole.core.models.checkpoints import ModelSource

    if getattr(args, "pretrained", False) and not args.arch:
        raise PigeonholeError("--pretrained needs --arch NAME (see `pigeonhole models`).")
    return ModelSource(
        checkpoint=getattr(args, "checkpoint", None) or None,
        arch=args.arch or None,
        classes_file=getattr(args, "classes", None) or None,
        trust=bool(getattr(args, "trust_checkpoint", False)),
    )
