"""Load a model from whatever people have (checkpoint files in every common format, or
torchvision's ImageNet weights), and save Pigeonhole's own checkpoints atomically.

Loading never touches anything shared: each call builds a fresh model (on the meta device, then
the file's tensors are assigned, so there is no random initialisation to pay for), and any error
is a one-line :class:`~core.errors.CheckpointError` that leaves the caller's current model as is.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
from collections import OrderedDict
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .. import __version__
from ..errors import ArchitectureError, CheckpointError
from ..fileio import atomic_write, write_bytes_atomic
from .archs import build_meta_model, build_model, get_arch, head_info
from .conventions import stated_transform
from .files import find_sidecar, is_onnx_name, read_class_file
from .formats import PIGEONHOLE_FORMAT, read_checkpoint
from .identify import (
    WRAPPER_PREFIXES,
    closest_arch,
    identify_arch,
    mismatch,
    normalize_state_dict,
    num_classes_of,
    try_identify,
    unwrap_common_prefix,
)
from .imagenet import (
    imagenet_categories,
    imagenet_state_dict,
    imagenet_weights_cached,
    weights_file,
)
from .loaded import OWN_NAMES, LoadedModel, ModelSource, weights_version
from .onnx_models import file_facts, load_onnx
from .transforms import (
    PreprocessingOverride,
    TransformOrigin,
    TransformSpec,
)

__all__ = [
    "LoadedModel",
    "ModelSource",
    "identify_arch",
    "imagenet_state_dict",
    "imagenet_weights_cached",
    "load_checkpoint",
    "load_model",
    "load_pretrained",
    "save_checkpoint",
]

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]


# ---------------------------------------------------------------------------------------------
# Public entry points


def load_model(source: ModelSource, *, progress: Progress | None = None) -> LoadedModel:
    """Load what ``source`` describes; any problem is a one-line CheckpointError (or
    ArchitectureError) and nothing of the caller's is touched. ``progress(done, total)`` follows
    a weights download."""
    if source.is_file and is_onnx_name(source.checkpoint):
        return load_onnx(source)
    if source.is_file:
        return load_checkpoint(
            source.checkpoint,
            arch=source.arch,
            classes_file=source.classes_file,
            trust=source.trust,
            require_arch=source.require_arch,
            partial=source.partial,
            preprocessing=source.preprocessing,
        )
    if not source.arch:
        raise CheckpointError("Choose an architecture (for ImageNet weights) or a checkpoint file.")
    if source.preprocessing is not None:  # a bad choice fails before any download
        recipe = get_arch(source.arch).transform
        source.preprocessing.resolve(recipe, recipe)
    loaded = load_pretrained(source.arch, progress=progress)
    if source.classes_file:
        name = Path(source.classes_file).name
        names = _check_count(read_class_file(source.classes_file), 1000, name)
        loaded.override_names(names, name, "the ImageNet categories")
    apply_preprocessing(loaded, source.preprocessing)
    return loaded


def apply_preprocessing(loaded: LoadedModel, choice: PreprocessingOverride | None) -> None:
    """Give ``loaded`` the user's preprocessing ``choice`` (nothing when None)."""
    loaded.choose_preprocessing(choice)


def load_checkpoint(
    path: str | os.PathLike,
    arch: str | None = None,
    classes_file: str | os.PathLike | None = None,
    trust: bool = False,
    require_arch: bool = False,
    partial: bool = False,
    preprocessing: PreprocessingOverride | None = None,
) -> LoadedModel:
    """Load any accepted checkpoint file (see core.models.formats); ``arch`` is a hint, or a
    demand with ``require_arch`` (then ``partial`` loads what fits instead of refusing). The
    preprocessing is the user's ``preprocessing`` if given, else what the file or its folder
    states or a recognised convention (core.models.conventions), else an assumption."""
    path = Path(path)
    raw = read_checkpoint(path, trust=trust)
    state = normalize_state_dict(raw.state)
    if not state:
        raise CheckpointError(f"{path.name} holds no weight tensors.")
    notes: list[str] = []
    if raw.trusted_load:
        notes.append("loaded with Python code allowed, because you trusted this file")
    unwrapped = unwrap_common_prefix(state)
    if unwrapped is not None:
        state = unwrapped[1]
        notes.append(f"the weights are stored under '{unwrapped[0]}'")
    if str(raw.metadata.get("format_version", "1")) not in ("1", "None"):
        notes.append("saved by a newer Pigeonhole: some details may be ignored")
    chosen = _choose_arch(state, arch, raw.arch, path.name, notes)
    demanded = get_arch(arch).name if arch and require_arch else chosen
    if demanded != chosen:
        if not partial:
            raise CheckpointError(
                f"{path.name} does not fit {demanded}: {mismatch(state, demanded)}. The weights "
                f"are {chosen}: leave out --arch to use them, or add --allow-partial to load "
                f"only the tensors that fit {demanded}."
            )
        notes[:] = [n for n in notes if not n.startswith("the weights are ")]
        model, n = _materialize_partial(demanded, state, path.name, notes)
        chosen = demanded
    else:
        n = num_classes_of(state, chosen)
        model = _materialize(chosen, n, state, path.name)
    own = _check_count(raw.class_names, n, path.name) if raw.class_names else None
    names, names_from = _class_names(own, path, n, notes)
    transform, origin = stated_transform(raw, path, chosen, classes_file, notes)
    loaded = LoadedModel(model, chosen, names, transform, str(path), notes, dict(raw.metadata))
    loaded.transform_origin = origin
    loaded.names_from, loaded.own_class_names = names_from, own
    loaded.file_facts = file_facts(
        loaded,
        weights_version(model),
        needs_trust=raw.trusted_load,
        names_set_preprocessing=raw.kind == "state_dict"
        and origin.kind in ("convention", "assumed"),
    )
    if classes_file is not None:
        name = Path(classes_file).name
        chosen_names = _check_count(read_class_file(classes_file), n, name)
        loaded.override_names(chosen_names, name, f"the names {names_from}")
    apply_preprocessing(loaded, preprocessing)
    return loaded


def load_pretrained(arch: str, progress: Progress | None = None) -> LoadedModel:
    """``arch`` with torchvision's ImageNet weights (downloaded once into torch's cache)."""
    spec = get_arch(arch)
    state = normalize_state_dict(imagenet_state_dict(spec.name, progress=progress))
    model = _materialize(spec.name, 1000, state, weights_file(spec.name).name)
    return LoadedModel(
        model=model,
        arch=spec.name,
        class_names=list(imagenet_categories(spec.name)),
        transform=spec.transform,
        source=f"ImageNet weights ({spec.weights_name})",
        names_from="the ImageNet categories",
        transform_origin=TransformOrigin(
            "weights", f"torchvision's transforms for {spec.weights_name}"
        ),
    )


def save_checkpoint(
    path: str | os.PathLike,
    model: nn.Module,
    arch: str,
    class_names: list[str],
    transform: TransformSpec,
    metrics: dict | None = None,
    extra: dict | None = None,
) -> None:
    """Write Pigeonhole's format (atomically): a dict the classic scripts can read too (they
    look for ``model_state_dict``). A ``.safetensors`` path gets the same facts as metadata."""
    path = Path(path)
    name = get_arch(arch).name
    state = OrderedDict(
        (_strip(k), v.detach().to("cpu").contiguous().clone())
        for k, v in model.state_dict().items()
    )
    problem = mismatch(state, name)
    if problem is not None:
        raise CheckpointError(f"This network is not a {name} ({problem}); nothing was saved.")
    _check_count(list(class_names), num_classes_of(state, name), "class_names")
    facts = {
        "format": PIGEONHOLE_FORMAT,
        "format_version": 1,
        "arch": name,
        "class_names": [str(c) for c in class_names],
        "transform": transform.to_dict(),
        "metrics": _plain(metrics or {}),
        "app_version": __version__,
        "torch_version": str(torch.__version__),
        "saved_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        **_plain(extra or {}),
    }
    if path.suffix.lower() == ".safetensors":
        from safetensors.torch import save

        meta = {k: v if isinstance(v, str) else json.dumps(v) for k, v in facts.items()}
        write_bytes_atomic(path, save(dict(state), metadata=meta))
        return
    with atomic_write(path, "wb") as fh:
        torch.save({**facts, "model_state_dict": state}, fh)


# ---------------------------------------------------------------------------------------------
# Helpers


def _strip(key: str) -> str:
    for prefix in WRAPPER_PREFIXES:
        while key.startswith(prefix):
            key = key[len(prefix) :]
    return key


def _plain(value):
    """Only types ``torch.load(weights_only=True)`` and JSON accept (numpy -> Python)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, torch.Tensor):
        return value.item() if value.numel() == 1 else value.tolist()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _choose_arch(
    state: Mapping[str, torch.Tensor],
    given: str | None,
    from_file: str | None,
    fname: str,
    notes: list[str],
) -> str:
    """The one order of guesses: the architecture the file names, then the caller's hint, then
    what the weights show; the first that the weights fit wins, and the notes say why."""
    hint = get_arch(given).name if given else None  # an unknown name is the caller's error
    named = None
    if from_file:
        try:
            named = get_arch(from_file).name
        except ArchitectureError:
            notes.append(f"the file names an unknown architecture '{from_file}'")
    tried: list[tuple[str, str]] = []
    chosen = None
    for candidate in dict.fromkeys(c for c in (named, hint) if c):
        problem = mismatch(state, candidate)
        if problem is None:
            chosen = candidate
            break
        tried.append((candidate, problem))
    if chosen is None:
        chosen = try_identify(state)
        if chosen is not None and not tried:
            notes.append(f"architecture identified as {chosen} from the weights")
    if chosen is None:
        if tried:
            name, problem = tried[0]
            raise CheckpointError(
                f"{fname} does not fit {name}: {problem}; no other architecture fits."
            )
        closest = closest_arch(state)
        if closest:
            raise CheckpointError(
                f"Could not tell the architecture of {fname}: closest is {closest}, but "
                f"{mismatch(state, closest)}."
            )
        chosen = identify_arch(state)  # raises, describing the keys
    wrong = [name for name in (named, hint) if name and name != chosen]
    if wrong:
        notes.append(f"the weights are {chosen}, not {wrong[0]}")
    return chosen


def _materialize(
    arch: str, num_classes: int, state: Mapping[str, torch.Tensor], fname: str
) -> nn.Module:
    """Build ``arch`` weightless, then assign the file's tensors (float32, CPU); eval mode."""
    model = build_meta_model(arch, num_classes)
    final: OrderedDict = OrderedDict()
    for key, value in state.items():
        final[key] = value.to(torch.float32) if value.is_floating_point() else value
    for key in model.state_dict():
        if key.endswith("num_batches_tracked") and key not in final:
            final[key] = torch.zeros((), dtype=torch.long)
    # Per-module versions tell layers how to read older key names; files without them (e.g.
    # .safetensors) are taken to be current (MNASNet refuses to load with no version at all).
    final._metadata = getattr(state, "_metadata", None) or model.state_dict()._metadata
    try:
        model.load_state_dict(final, strict=True, assign=True)
    except RuntimeError as e:
        lines = str(e).strip().splitlines()
        detail = (lines[1] if len(lines) > 1 else lines[0]).strip()[:300]
        raise CheckpointError(f"{fname} does not fit {arch}: {detail}") from None
    stray = [
        n for n, t in list(model.named_parameters()) + list(model.named_buffers()) if t.is_meta
    ]
    if stray:
        raise CheckpointError(
            f"{fname} does not fit {arch}: {stray[0]} has no weights in the file."
        )
    return model.eval()


def _materialize_partial(
    arch: str, state: Mapping[str, torch.Tensor], fname: str, notes: list[str]
) -> tuple[nn.Module, int]:
    """``arch`` with every tensor of the file whose name and shape fit, the rest left at their
    random initial values (the notes list them); eval mode. Returns the model and its class
    count (the file's head size when its head fits, else 1000)."""
    head = head_info(arch).path
    weight = state.get(f"{head}.weight")
    n = int(weight.shape[0]) if weight is not None else 1000
    model = build_model(arch, n)
    target = model.state_dict()
    fits = {k: v.to(target[k].dtype) for k, v in state.items()
            if k in target and tuple(v.shape) == tuple(target[k].shape)}  # fmt: skip
    if not fits:
        raise CheckpointError(f"{fname}: no tensor fits {arch}; nothing could be loaded.")
    model.load_state_dict(fits, strict=False)
    missing = [k for k in target if k not in fits and not k.endswith("num_batches_tracked")]
    shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
    notes.append(
        f"partial load into {arch}: {len(fits)} of {len(target)} tensors from the file"
        + (f"; not loaded (random): {shown}" if missing else "")
    )
    return model.eval(), n


def _check_count(names: list[str], n: int, source: str) -> list[str]:
    if len(names) != n:
        raise CheckpointError(
            f"{source} lists {len(names)} class names but the network has {n} outputs."
        )
    return names


def _class_names(
    own: list[str] | None, path: Path, n: int, notes: list[str]
) -> tuple[list[str], str]:
    """(names, where they came from, in words): the checkpoint's own names win, then a names
    file beside it, then the ImageNet categories for 1000 outputs, then numbered classes."""
    if own is not None:
        return own, OWN_NAMES
    sidecar = find_sidecar(path)
    if sidecar is not None:
        notes.append(f"class names from {sidecar.name} beside the checkpoint")
        return _check_count(read_class_file(sidecar), n, sidecar.name), f"{sidecar.name} beside it"
    if n == 1000:
        notes.append("no class names in the file: using the ImageNet categories (1000 outputs)")
        return list(imagenet_categories("resnet18")), "the ImageNet categories (assumed)"
    notes.append(f"no class names found: using class_0 .. class_{n - 1} (pick a class names file)")
    return [f"class_{i}" for i in range(n)], "numbered: no names found"
