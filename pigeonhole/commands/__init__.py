"""The subcommands of `pigeonhole`: each module has ``run(args) -> exit code``."""

from pigeonhole.core.errors import PigeonholeError


def model_source(args):
    """The ModelSource the model options describe: --checkpoint (an --arch given with it must
    fit the weights, or --allow-partial loads what fits), or --arch's ImageNet weights
    (--pretrained says so explicitly)."""
    from pigeonhole.core.models.checkpoints import ModelSource

    if getattr(args, "pretrained", False) and not args.arch:
        raise PigeonholeError("--pretrained needs --arch NAME (see `pigeonhole models`).")
    checkpoint = getattr(args, "checkpoint", None) or None
    partial = bool(getattr(args, "allow_partial", False))
    if partial and not (checkpoint and args.arch):
        raise PigeonholeError("--allow-partial needs both --arch and --checkpoint.")
    return ModelSource(
        checkpoint=checkpoint,
        arch=args.arch or None,
        classes_file=getattr(args, "classes", None) or None,
        trust=bool(getattr(args, "trust_checkpoint", False)),
        require_arch=bool(checkpoint and args.arch),  # named on the command line: a demand
        partial=partial,
    )
