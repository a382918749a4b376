"""Checkpoint fixtures: files in every format Pigeonhole accepts (and the ones it must refuse).

Other test modules use ``make_checkpoint(kind, path, ...)``::

    ckpt = make_checkpoint("pigeonhole", tmp_path / "model.pth", classes=("red", "blue"))

Kinds: pigeonhole, pigeonhole_safetensors, model_state_dict, state_dict, model, net, raw,
module_prefix, compiled_prefix, safetensors, whole_model, torchscript, hostile, empty,
truncated, random. ``hostile`` writes a pickle whose payload would create ``<path>.marker``.
"""

from __future__ import annotations

import os
import random
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from torch import nn

from pigeonhole.core.models.archs import build_model, get_arch
from pigeonhole.core.models.checkpoints import save_checkpoint

_MODELS: dict[tuple[str, int], nn.Module] = {}


def tiny_model(arch: str = "resnet18", num_classes: int = 2) -> nn.Module:
    """A random-weight model, built once per (arch, classes) per session; do not modify it."""
    key = (arch, num_classes)
    if key not in _MODELS:
        torch.manual_seed(0)
        _MODELS[key] = build_model(arch, num_classes)
    return _MODELS[key]


class MarkerPayload:
    """Unpickling this would run code: it creates the marker file."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def write_checkpoint(
    kind: str,
    path: str | os.PathLike,
    arch: str = "resnet18",
    classes: tuple[str, ...] = ("red", "blue"),
) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = tiny_model(arch, len(classes))
    state = model.state_dict()
    names = list(classes)
    if kind == "pigeonhole":
        save_checkpoint(
            path, model, arch, names, get_arch(arch).transform, metrics={"val_acc": 0.9}
        )
    elif kind == "pigeonhole_safetensors":
        save_checkpoint(
            path.with_suffix(".safetensors"), model, arch, names, get_arch(arch).transform
        )
        path = path.with_suffix(".safetensors")
    elif kind in ("model_state_dict", "state_dict", "model", "net"):
        torch.save({kind: state, "epoch": 3, "classes": names}, path)
    elif kind == "raw":
        torch.save(state, path)
    elif kind == "module_prefix":
        torch.save({f"module.{k}": v for k, v in state.items()}, path)
    elif kind == "compiled_prefix":
        torch.save({f"_orig_mod.{k}": v for k, v in state.items()}, path)
    elif kind == "safetensors":
        import json

        from safetensors.torch import save_file

        path = path.with_suffix(".safetensors")
        tensors = {k: v.contiguous() for k, v in state.items()}
        save_file(tensors, str(path), metadata={"class_names": json.dumps(names)})
    elif kind == "whole_model":
        torch.save(model, path)
    elif kind == "torchscript":
        with warnings.catch_warnings():  # deprecated in favour of torch.export, still common
            warnings.simplefilter("ignore", FutureWarning)
            torch.jit.save(torch.jit.script(nn.Sequential(nn.Linear(4, len(classes)))), str(path))
    elif kind == "hostile":
        torch.save({"model_state_dict": state, "x": MarkerPayload(Path(f"{path}.marker"))}, path)
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated":
        torch.save(state, path)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif kind == "random":
        path.write_bytes(random.Random(1234).randbytes(4096))  # fixed: no flaky first byte
    else:
        raise ValueError(f"unknown checkpoint kind {kind!r}")
    return path


@pytest.fixture
def make_checkpoint() -> Callable[..., Path]:
    """``make_checkpoint(kind, path, arch="resnet18", classes=("red", "blue")) -> Path``."""
    return write_checkpoint


@pytest.fixture
def imagenet_cache(monkeypatch) -> Callable[[str], Path]:
    """``put(arch) -> Path``: a generated 1000-class state_dict where torch's cache keeps the
    ImageNet weights for ``arch`` (TORCH_HOME is per test), so no download is needed."""

    def put(arch: str = "resnet18") -> Path:
        spec = get_arch(arch)
        target = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(spec.weights_url)
        target.parent.mkdir(parents=True, exist_ok=True)
        torch.save(tiny_model(spec.name, 1000).state_dict(), target)
        return target

    return put
