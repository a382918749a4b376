"""The `pigeonhole` command line's parser: every subcommand's options, and the checks every number
gets where it is parsed (one-line errors naming the option). pigeonhole.cli runs what it parses."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

from pigeonhole.core import __version__
from pigeonhole.core.runtime import options as run

from .commands import preprocessing


class OneLineParser(argparse.ArgumentParser):
    """argparse with one-line errors (``pigeonhole: error: argument --lr: ...``), the same
    shape as every other error of the command line; the usage is one ``--help`` away."""

    def error(self, message: str):
        self.exit(2, f"pigeonhole: error: {message} (see `{self.prog} --help`)\n")


def whole_number(low: int, high: int | None = None) -> Callable[[str], int]:
    """argparse ``type=``: an integer in [low, high], or a one-line error saying the range."""
    rule = (
        f"a whole number from {low} to {high}" if high is not None else f"a whole number >= {low}"
    )

    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {rule}, not {text!r}") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"must be {rule}, not {text!r}")
        return value

    parse.__name__ = "whole number"  # argparse names the type in some messages
    return parse


def finite_number(
    low: float, high: float | None = None, low_open: bool = False, high_open: bool = False
) -> Callable[[str], float]:
    """argparse ``type=``: a finite float in the range (``*_open``: the bound excluded)."""
    if high is None:
        rule = f"a finite number {'above' if low_open else 'of at least'} {low:g}"
    else:
        lo = f"above {low:g} and" if low_open else f"from {low:g}"
        hi = (
            f"below {high:g}"
            if high_open
            else (f"at most {high:g}" if low_open else f"to {high:g}")
        )
        rule = f"a finite number {lo} {'to ' if high_open and not low_open else ''}{hi}"

    def parse(text: str) -> float:
        try:
            value = float(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {rule}, not {text!r}") from None
        bad = (
            not math.isfinite(value)
            or (value <= low if low_open else value < low)
            or (high is not None and (value >= high if high_open else value > high))
        )
        if bad:
            raise argparse.ArgumentTypeError(f"must be {rule}, not {text!r}")
        return value

    parse.__name__ = "number"
    return parse


# Ranges: wide enough for any real use, narrow enough that no value can exhaust memory or run
# for ever before a check deeper down would catch it.
BATCH_SIZE_AUTO = whole_number(0, run.MAX_BATCH)  # 0 = automatic
WORKERS = whole_number(0, run.MAX_WORKERS)  # 0 = automatic


def _add_model_args(p: argparse.ArgumentParser, checkpoint_option: bool = True) -> None:
    """The model options; ``checkpoint_option`` False where the checkpoint is the command's
    positional argument (`export CHECKPOINT`), so there is one way to name it."""
    p.add_argument("--arch", help="architecture name (see `pigeonhole models`)")
    g = p.add_mutually_exclusive_group(required=False)
    if checkpoint_option:
        g.add_argument(
            "--checkpoint",
            metavar="FILE",
            help=".pth/.pt/.pkl/.safetensors checkpoint, or an .onnx model (predict)",
        )
    g.add_argument("--pretrained", action="store_true", help="torchvision ImageNet weights")
    p.add_argument("--classes", metavar="FILE", help="class names, one per line")
    p.add_argument(
        "--trust-checkpoint",
        action="store_true",
        help="allow a checkpoint that needs arbitrary pickle code (only for files you trust)",
    )
    p.add_argument(
        "--allow-partial",
        action="store_true",
        help="with --arch and --checkpoint: load the tensors that fit --arch even if others do not",
    )


BENCH_ENGINE_HELP = "all (on the CPU: torch fp32, ONNX Runtime fp32 and int8 side by side) or one"
TRAIN_PRECISION_HELP = "auto (fp16 on CUDA, fp32 on the CPU), fp32, fp16 or bf16"


def _add_run_args(p: argparse.ArgumentParser, bench: bool = False, train: bool = False) -> None:
    """How the run goes: the RunOptions choices (their lists and words: core.runtime.options).
    Training has no engine choice here and no int8; bench can run every engine at once."""
    p.add_argument("--device", default="auto", help=run.DEVICE_HELP)
    if bench:
        engines = ("all", *run.specs(run.ENGINES))
        p.add_argument("--engine", default="all", choices=engines, help=BENCH_ENGINE_HELP)
    elif not train:
        p.add_argument(
            "--engine", default="auto", choices=run.specs(run.ENGINES), help=run.ENGINE_HELP
        )
    precisions, help_ = (run.PRECISIONS, TRAIN_PRECISION_HELP) if train else (
        run.RUN_PRECISIONS, run.PRECISION_HELP)  # fmt: skip
    p.add_argument("--precision", default="auto", choices=run.specs(precisions), help=help_)


def _add_pipeline_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--batch-size", type=BATCH_SIZE_AUTO, default=0, help="0 = automatic")
    p.add_argument("--workers", type=WORKERS, default=0, help="decode threads, 0 = automatic")
    p.add_argument("--decode", default="auto", choices=run.specs(run.DECODES), help=run.DECODE_HELP)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="pigeonhole",
        description="Pigeonhole: classify folders of images with any torchvision network.",
    )
    parser.add_argument("--version", action="version", version=f"pigeonhole {__version__}")
    parser.add_argument(
        "--self-test", action="store_true", help="check this installation works, then exit"
    )
    parser.add_argument("--report", metavar="FILE.json", help="with --self-test: write a report")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    for add in (_gui_parser, _models_parser, _predict_parser, _train_parser, _export_parser,
                _bench_parser, _duplicates_parser, _audit_parser, _explain_parser):  # fmt: skip
        add(sub)
    return parser


def _gui_parser(sub) -> None:
    p = sub.add_parser("gui", help="open the window (the default)")
    p.add_argument("paths", nargs="*", metavar="PATH", help="folders or images to classify")
    p.add_argument("--arch")
    p.add_argument("--checkpoint", metavar="FILE")
    p.add_argument("--classes", metavar="FILE")
    p.add_argument("--screenshot", metavar="FILE.png", help="save the window when the run is done")
    p.add_argument("--quit-when-done", action="store_true", help="exit when the run is done")
    p.add_argument(
        "--trust-checkpoint",
        action="store_true",
        help="allow a checkpoint that needs arbitrary pickle code (only for files you trust)",
    )


def _models_parser(sub) -> None:
    p = sub.add_parser("models", help="list the available architectures")
    p.add_argument("--family", help="only this family (e.g. ResNet)")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def _predict_parser(sub) -> None:
    p = sub.add_parser("predict", help="classify images and folders")
    p.add_argument("paths", nargs="+", metavar="PATH")
    _add_model_args(p)
    _add_run_args(p)
    _add_pipeline_args(p)
    p.add_argument("--topk", type=whole_number(1, 1000), default=5)
    p.add_argument(
        "--out", metavar="FILE",
        help="write results to FILE.csv or FILE.json (with --cluster also DIR/ or "
        "FILE.parquet: Parquet, written as results come)",
    )  # fmt: skip
    p.add_argument(
        "--cluster", metavar="local|auto|ADDRESS",
        help="run on a Ray cluster: local (started for this run), auto (the running one), or "
        "its address; sources may be s3://, gs://, file:// URIs (needs pigeonhole[cluster])",
    )  # fmt: skip
    p.add_argument(
        "--list-skipped",
        action="store_true",
        help="name every file that was skipped (videos, sidecars...), under its reason",
    )
    p.add_argument(
        "--include-skipped",
        action="store_true",
        help="with --out: a row per skipped file too, and a status column "
        "(classified, failed or skipped)",
    )
    p.add_argument("--no-draft", action="store_true", help="always decode JPEGs at full size")
    p.add_argument(
        "--evaluate",
        action="store_true",
        help="images in folders named like the classes: report accuracy, per-class metrics, "
        "and add the true label to each result",
    )
    p.add_argument(
        "--leaks", metavar="TRAIN_FOLDER",
        help="with --evaluate: count and list the evaluated images that are copies of training "
        "images (exact or edited), and give the accuracy without them too",
    )  # fmt: skip
    p.add_argument(
        "--explain", metavar="DIR",
        help="write each image's heat map into DIR during the run: NAME.cam.png (over the "
        "photo) and NAME.cam.npy (float32, the photo's height x width, 0-1), as `explain` does",
    )  # fmt: skip
    p.add_argument(
        "--features", metavar="FILE",
        help="write each image's embedding (the vector the classification layer sees, from "
        "the same pass) with its path: FILE.npy (a structured array: path, embedding) or "
        "FILE.parquet",
    )  # fmt: skip
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    preprocessing.add_arguments(p)


def _train_parser(sub) -> None:
    p = sub.add_parser("train", help="fine-tune the final layer on folders of images")
    p.add_argument("data_dir", metavar="DATA_DIR")
    _add_model_args(p)
    p.add_argument("--val-dir", metavar="DIR")
    p.add_argument(
        "--val-split",
        type=finite_number(0, 1, high_open=True),
        default=0.2,
        help="share of each class kept for validation (0 = none)",
    )
    p.add_argument("--epochs", type=whole_number(1, 100_000), default=30)
    p.add_argument(
        "--lr",
        type=finite_number(0, 100, low_open=True),
        default=1e-2,
        help="learning rate (features are standardised)",
    )
    p.add_argument("--batch-size", type=whole_number(1, 65_536), default=64)
    p.add_argument("--weight-decay", type=finite_number(0, 100), default=1e-4)
    p.add_argument("--optimizer", default="adamw", choices=("adamw", "sgd"))
    p.add_argument(
        "--augment", type=whole_number(0, 100), default=0, help="augmented views per training image"
    )
    p.add_argument("--balanced", action="store_true", help="class-balanced loss")
    p.add_argument(
        "--patience",
        type=whole_number(0, 100_000),
        default=5,
        help="early-stopping patience (0 = off)",
    )
    p.add_argument("--seed", type=whole_number(0, 2**63 - 1), default=0)
    _add_run_args(p, train=True)
    p.add_argument("--no-cache", action="store_true", help="do not use the feature cache")
    p.add_argument("--out", metavar="FILE", help="where to save the checkpoint")
    preprocessing.add_arguments(p)


def _export_parser(sub) -> None:
    p = sub.add_parser(
        "export", help="save a model as ONNX or TorchScript, class names and preprocessing inside"
    )
    p.add_argument(
        "checkpoint", nargs="?", metavar="CHECKPOINT",
        help="the model file to export (or --arch NAME --pretrained for ImageNet weights)",
    )  # fmt: skip
    _add_model_args(p, checkpoint_option=False)
    p.add_argument("--format", choices=("onnx", "torchscript"), help="default: from --out's suffix")
    p.add_argument(
        "--out", metavar="FILE",
        help="FILE.onnx or FILE.pt (default: the checkpoint's name in the current folder)",
    )  # fmt: skip
    p.add_argument("--force", action="store_true", help="replace --out if it exists")
    preprocessing.add_arguments(p)


def _bench_parser(sub) -> None:
    p = sub.add_parser("bench", help="measure throughput: model only, pipeline, naive loop")
    p.add_argument("folder", nargs="?", metavar="FOLDER")
    p.add_argument(
        "--arch", default="resnet18", help="architecture, or several: resnet18,resnet50,vit_b_16"
    )
    p.add_argument("--checkpoint", metavar="FILE")
    _add_run_args(p, bench=True)
    _add_pipeline_args(p)
    p.add_argument(
        "--images",
        type=whole_number(0, 1_000_000),
        default=0,
        help="images to time (0 = 96 on a CPU, 2048 on a GPU)",
    )
    p.add_argument("--no-formats", action="store_true", help="leave out the decode cost per format")
    p.add_argument(
        "--keep", type=whole_number(1, 50), nargs="?", const=3, default=0, metavar="REPEATS",
        help="also time each engine's run with heat maps and embeddings kept (as the window "
        "keeps them) against one without, alternating REPEATS times (default 3); print the ratio "
        "and the memory kept per image",
    )  # fmt: skip
    p.add_argument(
        "--classes", type=whole_number(1, 100_000), default=1000,
        help="without --checkpoint: the random head's classes (default 1000)",
    )  # fmt: skip
    p.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    preprocessing.add_arguments(p)


def _duplicates_parser(sub) -> None:
    from pigeonhole.core.insight import duplicate_options as dup

    p = sub.add_parser(
        "duplicates",
        help="find copies of the same photo (exact and edited); with a model, by embedding too",
    )
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument(
        "--threshold", type=whole_number(0, dup.MAX_THRESHOLD), default=dup.DEFAULT_THRESHOLD,
        help=f"bits of the 64-bit perceptual hash that may differ (default {dup.DEFAULT_THRESHOLD})",
    )  # fmt: skip
    _add_model_args(p)
    _add_run_args(p, train=True)
    p.add_argument(
        "--embedding-distance", type=finite_number(0.0, dup.MAX_COSINE),
        default=dup.DEFAULT_COSINE,
        help="with a model: the cosine distance of two images' embeddings at or under which "
        f"they are the same picture (default {dup.DEFAULT_COSINE})",
    )  # fmt: skip
    p.add_argument("--out", metavar="FILE.csv", help="write group,path,kind,distance rows")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    preprocessing.add_arguments(p)


def _audit_parser(sub) -> None:
    p = sub.add_parser(
        "audit", help="rank the images of a labelled folder by how likely their label is wrong"
    )
    p.add_argument("folder", metavar="FOLDER", help="one sub-folder of images per class")
    _add_model_args(p)
    _add_run_args(p, train=True)
    p.add_argument(
        "--folds", type=whole_number(2, 20), default=5,
        help="out-of-sample folds (each image judged by a layer trained on the others)",
    )  # fmt: skip
    p.add_argument("--out", metavar="FILE.csv", help="write path,given_label,suggested_label,score")
    preprocessing.add_arguments(p)


def _explain_parser(sub) -> None:
    p = sub.add_parser("explain", help="heat maps: where the network looked for each label")
    p.add_argument("paths", nargs="+", metavar="PATH", help="images or folders")
    _add_model_args(p)
    p.add_argument("--class", dest="class_name", metavar="NAME",
                   help="explain this class instead of each image's top one")  # fmt: skip
    p.add_argument("--out", metavar="DIR", required=True,
                   help="folder for <name>.cam.png (the map over the photo) and <name>.cam.npy")  # fmt: skip
    preprocessing.add_arguments(p)
