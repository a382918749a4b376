"""Tell which registry architecture a state_dict belongs to, from its key names and shapes.

Each architecture's signature (keys and shapes, from a weightless meta build) is computed once
per process and cached. A small table of (tensor count, first key, last key) per architecture
picks the few candidates worth building, so identification costs one to four meta builds; when
the table does not fit this torchvision version every architecture is compared instead.
"""

from __future__ import annotations

import functools
import json
import logging
from collections import OrderedDict
from collections.abc import Mapping

import torch
import torchvision

from ..errors import CheckpointError
from ..fileio import cache_dir, write_text_atomic
from .archs import build_meta_model, get_arch, head_info, is_aux_key, list_archs

log = logging.getLogger(__name__)

#: Prefixes added by wrappers: DataParallel/DistributedDataParallel and torch.compile.
WRAPPER_PREFIXES = ("module.", "_orig_mod.")

Signature = tuple[tuple[str, tuple[int, ...]], ...]

_HINTS_VERSION = "0.29.1"  # the torchvision the table below was computed with
# arch -> (tensors excluding num_batches_tracked and aux heads, first key, last key)
_HINTS: dict[str, tuple[int, str, str]] = {
    "alexnet": (16, "features.0.weight", "classifier.6.bias"),
    "convnext_base": (344, "features.0.0.weight", "classifier.2.bias"),
    "convnext_large": (344, "features.0.0.weight", "classifier.2.bias"),
    "convnext_small": (344, "features.0.0.weight", "classifier.2.bias"),
    "convnext_tiny": (182, "features.0.0.weight", "classifier.2.bias"),
    "densenet121": (606, "features.conv0.weight", "classifier.bias"),
    "densenet161": (806, "features.conv0.weight", "classifier.bias"),
    "densenet169": (846, "features.conv0.weight", "classifier.bias"),
    "densenet201": (1006, "features.conv0.weight", "classifier.bias"),
    "efficientnet_b0": (311, "features.0.0.weight", "classifier.1.bias"),
    "efficientnet_b1": (439, "features.0.0.weight", "classifier.1.bias"),
    "efficientnet_b2": (439, "features.0.0.weight", "classifier.1.bias"),
    "efficientnet_b3": (496, "features.0.0.weight", "classifier.1.bias"),
    "efficientnet_b4": (610, "features.0.0.weight", "classifier.1.bias"),
    "efficientnet_b5": (738, "features.0.0.weight", "classifier.1.bias"),
    "efficientnet_b6": (852, "features.0.0.weight", "classifier.1.bias"),
    "efficientnet_b7": (1037, "features.0.0.weight", "classifier.1.bias"),
    "efficientnet_v2_l": (1331, "features.0.0.weight", "classifier.1.bias"),
    "efficientnet_v2_m": (963, "features.0.0.weight", "classifier.1.bias"),
    "efficientnet_v2_s": (672, "features.0.0.weight", "classifier.1.bias"),
    "googlenet": (287, "conv1.conv.weight", "fc.bias"),
    "inception_v3": (472, "Conv2d_1a_3x3.conv.weight", "fc.bias"),
    "maxvit_t": (548, "stem.0.0.weight", "classifier.5.weight"),
    "mnasnet0_5": (262, "layers.0.weight", "classifier.1.bias"),
    "mnasnet0_75": (262, "layers.0.weight", "classifier.1.bias"),
    "mnasnet1_0": (262, "layers.0.weight", "classifier.1.bias"),
    "mnasnet1_3": (262, "layers.0.weight", "classifier.1.bias"),
    "mobilenet_v2": (262, "features.0.0.weight", "classifier.1.bias"),
    "mobilenet_v3_large": (266, "features.0.0.weight", "classifier.3.bias"),
    "mobilenet_v3_small": (210, "features.0.0.weight", "classifier.3.bias"),
    "regnet_x_16gf": (357, "stem.0.weight", "fc.bias"),
    "regnet_x_1_6gf": (297, "stem.0.weight", "fc.bias"),
    "regnet_x_32gf": (372, "stem.0.weight", "fc.bias"),
    "regnet_x_3_2gf": (402, "stem.0.weight", "fc.bias"),
    "regnet_x_400mf": (357, "stem.0.weight", "fc.bias"),
    "regnet_x_800mf": (267, "stem.0.weight", "fc.bias"),
    "regnet_x_8gf": (372, "stem.0.weight", "fc.bias"),
    "regnet_y_128gf": (540, "stem.0.weight", "fc.bias"),
    "regnet_y_16gf": (369, "stem.0.weight", "fc.bias"),
    "regnet_y_1_6gf": (540, "stem.0.weight", "fc.bias"),
    "regnet_y_32gf": (407, "stem.0.weight", "fc.bias"),
    "regnet_y_3_2gf": (426, "stem.0.weight", "fc.bias"),
    "regnet_y_400mf": (331, "stem.0.weight", "fc.bias"),
    "regnet_y_800mf": (293, "stem.0.weight", "fc.bias"),
    "regnet_y_8gf": (350, "stem.0.weight", "fc.bias"),
    "resnet101": (522, "conv1.weight", "fc.bias"),
    "resnet152": (777, "conv1.weight", "fc.bias"),
    "resnet18": (102, "conv1.weight", "fc.bias"),
    "resnet34": (182, "conv1.weight", "fc.bias"),
    "resnet50": (267, "conv1.weight", "fc.bias"),
    "resnext101_32x8d": (522, "conv1.weight", "fc.bias"),
    "resnext101_64x4d": (522, "conv1.weight", "fc.bias"),
    "resnext50_32x4d": (267, "conv1.weight", "fc.bias"),
    "shufflenet_v2_x0_5": (282, "conv1.0.weight", "fc.bias"),
    "shufflenet_v2_x1_0": (282, "conv1.0.weight", "fc.bias"),
    "shufflenet_v2_x1_5": (282, "conv1.0.weight", "fc.bias"),
    "shufflenet_v2_x2_0": (282, "conv1.0.weight", "fc.bias"),
    "squeezenet1_0": (52, "features.0.weight", "classifier.1.bias"),
    "squeezenet1_1": (52, "features.0.weight", "classifier.1.bias"),
    "swin_b": (353, "features.0.0.weight", "head.bias"),
    "swin_s": (353, "features.0.0.weight", "head.bias"),
    "swin_t": (185, "features.0.0.weight", "head.bias"),
    "swin_v2_b": (449, "features.0.0.weight", "head.bias"),
    "swin_v2_s": (449, "features.0.0.weight", "head.bias"),
    "swin_v2_t": (233, "features.0.0.weight", "head.bias"),
    "vgg11": (22, "features.0.weight", "classifier.6.bias"),
    "vgg11_bn": (54, "features.0.weight", "classifier.6.bias"),
    "vgg13": (26, "features.0.weight", "classifier.6.bias"),
    "vgg13_bn": (66, "features.0.weight", "classifier.6.bias"),
    "vgg16": (32, "features.0.weight", "classifier.6.bias"),
    "vgg16_bn": (84, "features.0.weight", "classifier.6.bias"),
    "vgg19": (38, "features.0.weight", "classifier.6.bias"),
    "vgg19_bn": (102, "features.0.weight", "classifier.6.bias"),
    "vit_b_16": (152, "class_token", "heads.head.bias"),
    "vit_b_32": (152, "class_token", "heads.head.bias"),
    "vit_h_14": (392, "class_token", "heads.head.bias"),
    "vit_l_16": (296, "class_token", "heads.head.bias"),
    "vit_l_32": (296, "class_token", "heads.head.bias"),
    "wide_resnet101_2": (522, "conv1.weight", "fc.bias"),
    "wide_resnet50_2": (267, "conv1.weight", "fc.bias"),
}


def normalize_state_dict(state: Mapping) -> OrderedDict:
    """Strip wrapper prefixes and drop auxiliary-classifier keys; keeps ``_metadata`` (the
    per-module versions some layers use to read older key names) in step with the keys."""
    out: OrderedDict = OrderedDict()
    for key, value in state.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            continue
        new = _strip_prefixes(key)
        if is_aux_key(new):
            continue
        out[new] = value
    meta = getattr(state, "_metadata", None)
    if meta is not None:
        out._metadata = OrderedDict((_strip_prefixes(k) if k else k, v) for k, v in meta.items())
    return out


def _strip_prefixes(key: str) -> str:
    changed = True
    while changed:
        changed = False
        for prefix in WRAPPER_PREFIXES:
            if key.startswith(prefix):
                key = key[len(prefix) :]
                changed = True
        if key in ("module", "_orig_mod"):  # _metadata's entry for the wrapper itself
            return ""
    return key


def _is_tracked(key: str) -> bool:
    """Keys that matter for matching (BatchNorm's step counter is optional in old files)."""
    return not key.endswith("num_batches_tracked")


@functools.cache
def signature(arch: str) -> Signature:
    """Key names and shapes of ``arch`` (1000-class head), in module order."""
    sd = build_meta_model(arch, 1000).state_dict()
    return tuple((k, tuple(v.shape)) for k, v in sd.items() if _is_tracked(k) and not is_aux_key(k))


@functools.cache
def head_keys(arch: str) -> frozenset[str]:
    path = head_info(arch).path
    return frozenset((f"{path}.weight", f"{path}.bias"))


def _hints() -> dict[str, tuple[int, str, str]]:
    if torchvision.__version__.split("+")[0] == _HINTS_VERSION:
        return _HINTS
    return _computed_hints()


@functools.cache
def _computed_hints() -> dict[str, tuple[int, str, str]]:
    """The table for another torchvision: computed once (a few seconds), kept in the cache."""
    version = torchvision.__version__.split("+")[0]
    path = cache_dir() / f"arch-hints-torchvision-{version}.json"
    names = {s.name for s in list_archs()}
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
        if set(stored) == names:
            return {k: (int(v[0]), str(v[1]), str(v[2])) for k, v in stored.items()}
    except (OSError, ValueError, TypeError, IndexError):
        pass
    log.info("torchvision %s: computing architecture signatures", version)
    table = {name: _hint_of([k for k, _ in signature(name)]) for name in sorted(names)}
    try:
        write_text_atomic(path, json.dumps(table))
    except OSError:
        log.debug("could not store %s", path, exc_info=True)
    return table


def _hint_of(keys: list[str]) -> tuple[int, str, str]:
    return (len(keys), keys[0], keys[-1]) if keys else (0, "", "")


def _fmt(shape: tuple[int, ...]) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def mismatch(state: Mapping[str, torch.Tensor], arch: str) -> str | None:
    """None when ``state`` fits ``arch`` (any head size); else the first difference, in words."""
    name = get_arch(arch).name
    heads = head_keys(name)
    sig = signature(name)
    for key, shape in sig:
        tensor = state.get(key)
        if tensor is None:
            return f"{key} is in {name} but not in the file"
        got = tuple(tensor.shape)
        same = got[1:] == shape[1:] and len(got) == len(shape) if key in heads else got == shape
        if not same:
            return f"{key} has shape {_fmt(got)} in the file but {_fmt(shape)} in {name}"
    known = {k for k, _ in sig}
    for key in state:
        if _is_tracked(key) and key not in known:
            return f"the file has {key} {_fmt(tuple(state[key].shape))}, which {name} does not"
    return None


def fits(state: Mapping[str, torch.Tensor], arch: str) -> bool:
    return mismatch(state, arch) is None


def candidates(state: Mapping[str, torch.Tensor]) -> list[str]:
    """Architectures worth comparing in full: same tensor count, and their first and last keys
    present (files such as .safetensors may store keys in another order); seeds first."""
    count = sum(1 for k in state if _is_tracked(k))
    hints = _hints()
    return [
        s.name
        for s in list_archs()
        if (h := hints.get(s.name)) and h[0] == count and h[1] in state and h[2] in state
    ]


def unwrap_common_prefix(state: OrderedDict) -> tuple[str, OrderedDict] | None:
    """Weights kept under one attribute (PyTorch Lightning's ``model.``/``net.``...): when
    every key shares a first name and only the keys without it look like a known
    architecture, return that prefix and the unwrapped state."""
    firsts = {k.split(".", 1)[0] for k in state}
    if len(firsts) != 1 or not all("." in k for k in state) or candidates(state):
        return None
    prefix = f"{firsts.pop()}."
    inner = OrderedDict((k[len(prefix) :], v) for k, v in state.items())
    meta = getattr(state, "_metadata", None)
    if meta is not None:
        inner._metadata = OrderedDict(
            (k[len(prefix) :] if k.startswith(prefix) else "", v)
            for k, v in meta.items()
            if k.startswith(prefix) or k == prefix[:-1]
        )
    return (prefix, inner) if candidates(inner) else None


def identify_arch(state_dict: Mapping) -> str:
    """The registry architecture whose keys and shapes ``state_dict`` has (head size aside)."""
    state = normalize_state_dict(state_dict)
    if not state:
        raise CheckpointError("The file holds no weight tensors.")
    unwrapped = unwrap_common_prefix(state)
    if unwrapped is not None:
        state = unwrapped[1]
    for name in candidates(state):
        if fits(state, name):
            return name
    keys = [k for k in state if _is_tracked(k)] or list(state)
    raise CheckpointError(
        f"No known architecture has these weights ({len(keys)} tensors, first {keys[0]}, "
        f"last {keys[-1]}); pick the architecture it was trained with."
    )


def try_identify(state: Mapping[str, torch.Tensor]) -> str | None:
    """Like :func:`identify_arch` on an already normalised state, but None when nothing fits."""
    for name in candidates(state):
        if fits(state, name):
            return name
    return None


def closest_arch(state: Mapping[str, torch.Tensor], limit: int = 6) -> str | None:
    """The architecture sharing the longest run of keys and shapes with ``state`` (for error
    messages), among those with the same first key, nearest tensor count first."""
    count = sum(1 for k in state if _is_tracked(k))
    hints = _hints()
    pool = [a for a, h in hints.items() if h[1] in state and h[2] in state]
    pool = pool or [a for a, h in hints.items() if h[1] in state]
    pool.sort(key=lambda a: abs(hints[a][0] - count))
    best, best_score = None, 0
    for arch in pool[:limit]:
        score = 0
        for key, shape in signature(arch):
            tensor = state.get(key)
            if tensor is None or tuple(tensor.shape)[1:] != shape[1:]:
                break
            score += 1
        if score > best_score:
            best, best_score = arch, score
    return best


def num_classes_of(state: Mapping[str, torch.Tensor], arch: str) -> int:
    """Output size of the head, from the weight's first dimension."""
    path = head_info(get_arch(arch).name).path
    return int(state[f"{path}.weight"].shape[0])
