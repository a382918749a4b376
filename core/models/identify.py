"""Tell which registry architecture a state_dict belongs to, from its key names and shapes.

Each architecture's signature (keys and shapes, from a weightless meta build) is computed once
per process and cached. The identity hint on each registry record (tensor count, first key,
last key) picks the few candidates worth building, so identification costs one to four meta
builds; for a torchvision the shipped hints were not measured with, they are computed once and
kept in the cache folder.
"""

from __future__ import annotations

import functools
import json
import logging
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import astuple

import torch
import torchvision

from ..errors import CheckpointError
from ..fileio import cache_dir, write_text_atomic
from .archs import (
    IdentityHint,
    build_meta_model,
    get_arch,
    head_info,
    is_aux_key,
    list_archs,
)

log = logging.getLogger(__name__)

#: Prefixes added by wrappers: DataParallel/DistributedDataParallel and torch.compile.
WRAPPER_PREFIXES = ("module.", "_orig_mod.")

Signature = tuple[tuple[str, tuple[int, ...]], ...]


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


def identity_hints() -> dict[str, IdentityHint]:
    """Every architecture's identity hint: the one on its registry record (measured for the
    installed torchvision), else computed from its signature once and kept in the cache."""
    specs = list_archs()
    if all(s.identity_hint is not None for s in specs):
        return {s.name: s.identity_hint for s in specs}
    computed = _computed_hints(tuple(s.name for s in specs))
    return {s.name: s.identity_hint or computed[s.name] for s in specs}


@functools.cache
def _computed_hints(names: tuple[str, ...]) -> dict[str, IdentityHint]:
    """Hints for a torchvision the shipped ones were not measured with: computed once (a few
    seconds), kept in the cache folder."""
    version = torchvision.__version__.split("+")[0]
    path = cache_dir() / f"arch-hints-torchvision-{version}.json"
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
        if set(stored) == set(names):
            return {k: IdentityHint(int(v[0]), str(v[1]), str(v[2])) for k, v in stored.items()}
    except (OSError, ValueError, TypeError, IndexError):
        pass
    log.info("torchvision %s: computing architecture signatures", version)
    table = {name: hint_of([k for k, _ in signature(name)]) for name in sorted(names)}
    try:
        write_text_atomic(path, json.dumps({k: list(astuple(v)) for k, v in table.items()}))
    except OSError:
        log.debug("could not store %s", path, exc_info=True)
    return table


def hint_of(keys: list[str]) -> IdentityHint:
    """The identity hint of a state dict's tracked keys, in order."""
    return IdentityHint(len(keys), keys[0], keys[-1]) if keys else IdentityHint(0, "", "")


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
    hints = identity_hints()
    return [
        s.name
        for s in list_archs()
        if (h := hints.get(s.name))
        and h.tensors == count
        and h.first_key in state
        and h.last_key in state
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
    hints = identity_hints()
    pool = [a for a, h in hints.items() if h.first_key in state and h.last_key in state]
    pool = pool or [a for a, h in hints.items() if h.first_key in state]
    pool.sort(key=lambda a: abs(hints[a].tensors - count))
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
