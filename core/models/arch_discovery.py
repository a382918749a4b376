"""What torchvision says about its classifiers, read from torchvision itself: the source of the
registry snapshot (``archs.json``) that core.models.archs reads without importing torchvision.

Regenerate the snapshot after upgrading torchvision (tests/core/test_archs.py checks it):

    python -c "from pigeonhole.core.models.arch_discovery import write_snapshot; write_snapshot()"
"""

from __future__ import annotations

import json
from pathlib import Path

import torchvision
from torchvision.models import get_model_weights, list_models

from ..fileio import write_text_atomic
from .transforms import TransformSpec

SNAPSHOT_FILE = Path(__file__).with_name("archs.json")


def _transform_of(weights) -> TransformSpec:
    """torchvision's eval transform for the architecture's default ImageNet weights."""
    if weights is None:
        return TransformSpec(label="ImageNet")
    t = weights.transforms()
    interp = getattr(t, "interpolation", None)
    return TransformSpec(
        resize=int(t.resize_size[0]),
        crop=int(t.crop_size[0]),
        mean=tuple(float(x) for x in t.mean),
        std=tuple(float(x) for x in t.std),
        interpolation=getattr(interp, "value", "bilinear"),
        label="ImageNet",
    )


def _record(name: str) -> dict:
    try:
        weights_enum = get_model_weights(name)
        weights = weights_enum.DEFAULT
    except Exception:  # an architecture without registered weights
        weights_enum, weights = None, None
    meta = weights.meta if weights is not None else {}
    metrics = meta.get("_metrics", {}).get("ImageNet-1K", {})
    display = weights_enum.__name__.removesuffix("_Weights") if weights_enum else name
    return {
        "display_name": display.replace("_", "-"),
        "transform": _transform_of(weights).to_dict(),
        "params": meta.get("num_params"),
        "gflops": meta.get("_ops"),
        "top1": metrics.get("acc@1"),
        "top5": metrics.get("acc@5"),
        "weights_name": str(weights) if weights is not None else None,
        "weights_url": getattr(weights, "url", None),
        "weights_size_mb": meta.get("_file_size"),
    }


def imagenet_categories() -> list[str]:
    """The 1000 ImageNet category names torchvision's weights carry."""
    cats = get_model_weights("resnet18").DEFAULT.meta.get("categories")
    return [str(c) for c in cats]


def discover() -> dict:
    """The snapshot's content for the installed torchvision: every classifier's record (by
    name, in torchvision's order) and the ImageNet category names."""
    names = list_models(module=torchvision.models)
    return {
        "torchvision": torchvision.__version__.split("+")[0],
        "about": "torchvision's classifiers, read by core.models.arch_discovery; "
        "core.models.archs reads this file instead of importing torchvision.",
        "archs": {name: _record(name) for name in names},
        "imagenet_categories": imagenet_categories(),
    }


def write_snapshot(path: str | Path = SNAPSHOT_FILE) -> Path:
    """Write :func:`discover`'s content as the shipped snapshot (atomically)."""
    data = discover()
    dump = lambda value: json.dumps(value, ensure_ascii=False)  # noqa: E731
    archs = ",\n".join(f"  {dump(name)}: {dump(rec)}" for name, rec in data["archs"].items())
    text = (
        f'{{\n "torchvision": {dump(data["torchvision"])},\n "about": {dump(data["about"])},\n'
        f' "archs": {{\n{archs}\n }},\n "imagenet_categories": {dump(data["imagenet_categories"])}\n}}\n'
    )
    assert json.loads(text) == data
    write_text_atomic(Path(path), text)
    return Path(path)
