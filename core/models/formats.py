"""Reading checkpoint files safely: every accepted format into one record of weights + facts.

Accepted: a raw state_dict; a dict holding one under ``model_state_dict``/``state_dict``/
``model``/``net``; Pigeonhole's own dict format; ``.safetensors``. Pickles load with
``weights_only=True`` (plus a few harmless classes, e.g. the ``argparse.Namespace`` torchvision's
reference script stores); anything that needs other Python code is refused unless trusted.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import pickle
import re
import warnings
import zipfile
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..errors import CheckpointError, UntrustedCheckpointError, first_line

log = logging.getLogger(__name__)

#: Keys under which checkpoints commonly keep the weights, most specific first.
WEIGHT_KEYS = ("model_state_dict", "state_dict", "model", "net", "model_state", "weights")
PIGEONHOLE_FORMAT = "pigeonhole-checkpoint"
#: Keys beside the weights under which other tools record how their images were preprocessed.
HINT_KEYS = (
    "pretrained_cfg",
    "default_cfg",
    "args",
    "hyper_parameters",
    "datamodule_hyper_parameters",
)


def _numpy_globals() -> list:
    """numpy scalars/arrays/dtypes (e.g. ``best_acc`` saved as numpy.float64): data, no code."""
    core = getattr(np, "_core", None) or np.core
    found = [core.multiarray.scalar, core.multiarray._reconstruct, np.dtype, np.ndarray]
    dtypes = getattr(np, "dtypes", None)
    if dtypes is not None:
        found += [
            t for t in vars(dtypes).values() if isinstance(t, type) and issubclass(t, np.dtype)
        ]
    return found


SAFE_GLOBALS = [argparse.Namespace, *_numpy_globals()]


@dataclass(slots=True)
class RawCheckpoint:
    """What a file holds, before any model is built."""

    state: Mapping[str, torch.Tensor]
    kind: str  # "pigeonhole", "dict[model_state_dict]", "state_dict", "safetensors", "module"
    arch: str | None = None  # architecture named by the file, if any
    class_names: list[str] | None = None
    transform: dict | None = None  # Pigeonhole's own preprocessing record
    # What other tools state about preprocessing, by the key they keep it under (timm's
    # "pretrained_cfg", torchvision's reference-script "args", Lightning's "hyper_parameters").
    hints: dict[str, dict] = field(default_factory=dict)
    metadata: dict = field(default_factory=dict)
    trusted_load: bool = False  # needed weights_only=False


def read_checkpoint(path: str | os.PathLike, trust: bool = False) -> RawCheckpoint:
    """Open ``path`` in whichever accepted format it is; CheckpointError (one line) if not."""
    path = Path(path)
    name = path.name
    if not path.exists():
        raise CheckpointError(f"Checkpoint {path} does not exist.")
    if path.is_dir():
        raise CheckpointError(f"{path} is a folder, not a checkpoint file.")
    size = path.stat().st_size
    if size == 0:
        raise CheckpointError(f"{name} is empty (0 bytes): the file was not saved completely.")
    if path.suffix.lower() == ".safetensors" or _looks_like_safetensors(path, size):
        return _read_safetensors(path)
    if _is_torchscript(path):
        raise CheckpointError(
            f"{name} is a TorchScript model (torch.jit.save); Pigeonhole needs the weights: "
            "save them with torch.save(model.state_dict(), ...)."
        )
    obj, trusted = _torch_load(path, trust)
    raw = unpack(obj, name)
    raw.trusted_load = trusted
    return raw


def _looks_like_safetensors(path: Path, size: int) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(9)
    if len(head) < 9:
        return False
    n = int.from_bytes(head[:8], "little")
    return 0 < n < size and head[8:9] == b"{"


def _is_torchscript(path: Path) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    except (zipfile.BadZipFile, OSError):
        return False
    return any(n.endswith("/constants.pkl") or "/code/" in n for n in names)


def _read_safetensors(path: Path) -> RawCheckpoint:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            meta = dict(f.metadata() or {})
            state = OrderedDict((k, f.get_tensor(k)) for k in f.keys())  # noqa: SIM118
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        log.debug("safetensors read failed for %s", path, exc_info=True)
        raise CheckpointError(
            f"{path.name} is not a readable .safetensors file ({first_line(e)})."
        ) from e
    raw = RawCheckpoint(state=state, kind="safetensors", arch=meta.get("arch") or None)
    names = _json_field(meta, "class_names", path.name)
    if names is not None:
        raw.class_names = _as_names(names, path.name)
    raw.transform = _json_field(meta, "transform", path.name)
    raw.metadata = {k: v for k, v in meta.items() if k not in ("class_names", "transform")}
    if isinstance(raw.metadata.get("metrics"), str):
        try:
            raw.metadata["metrics"] = json.loads(raw.metadata["metrics"])
        except ValueError:
            pass
    return raw


def _json_field(meta: dict, key: str, name: str):
    text = meta.get(key)
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError as e:
        raise CheckpointError(f"{name}: the '{key}' metadata is not valid JSON.") from e


def _load_quietly(path: Path, weights_only: bool) -> object:
    """torch.load on the CPU; the warnings torch raises on the way (e.g. "Detected pickle
    protocol 4" before a refusal that gets its own clear message) go to the log at debug level,
    not to the terminal: the person can do nothing about them."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            return torch.load(path, map_location="cpu", weights_only=weights_only)
        finally:
            for w in caught:
                log.debug("%s: %s: %s", path.name, w.category.__name__, w.message)


def _torch_load(path: Path, trust: bool) -> tuple[object, bool]:
    """torch.load with weights_only=True; weights_only=False only if refused and ``trust``."""
    try:
        with torch.serialization.safe_globals(SAFE_GLOBALS):
            return _load_quietly(path, weights_only=True), False
    except UntrustedCheckpointError:
        raise
    except Exception as e:  # anything a corrupt or foreign file can raise
        log.debug("weights-only load of %s failed", path, exc_info=True)
        needs_code = _needs_code(e, path)
        if needs_code is None:
            raise CheckpointError(_unreadable_reason(e, path)) from None
        if not trust:
            raise UntrustedCheckpointError(
                f"{path.name} needs Python code to load ({needs_code}); such a file can run any "
                "code, so it opens only if you trust where it came from (it may be a whole pickled "
                "model rather than its weights)."
            ) from None
    log.warning("Loading %s with weights_only=False because the user trusts it", path)
    try:
        return _load_quietly(path, weights_only=False), True
    except Exception as e:
        log.debug("trusted load of %s failed", path, exc_info=True)
        if _starts_with_pickle(path):
            try:  # a plain pickle.dump of a dict (not torch.save)
                with open(path, "rb") as fh:
                    return pickle.load(fh), True  # noqa: S301 - the user trusts this file
            except Exception:
                log.debug("plain pickle load of %s failed too", path, exc_info=True)
        if isinstance(e, AttributeError | ImportError):  # e.g. the script's own `class Net`
            raise CheckpointError(
                f"{path.name} needs Python code that is not available here ({first_line(e)}); "
                "save the weights instead: torch.save(model.state_dict(), ...)."
            ) from None
        raise CheckpointError(f"{path.name} could not be loaded ({first_line(e)}).") from None


def _needs_code(error: Exception, path: Path) -> str | None:
    """A short description of the Python globals the file needs, or None if it is just broken."""
    msg = str(error)
    if "Unsupported global" in msg or "unsupported GLOBAL" in msg or "GLOBAL " in msg:
        try:
            names = torch.serialization.get_unsafe_globals_in_checkpoint(path)
        except Exception:
            names = re.findall(r"GLOBAL ([\w.]+)", msg)
        names = [n for n in names if n] or ["unknown"]
        more = f" and {len(names) - 3} more" if len(names) > 3 else ""
        return ", ".join(names[:3]) + more
    if _starts_with_pickle(path) and ("Unsupported operand" in msg or "magic number" in msg):
        return "it is a plain Python pickle, not a torch.save file"
    return None


def _starts_with_pickle(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(1) == b"\x80"


def _unreadable_reason(error: Exception, path: Path) -> str:
    msg = str(error)
    if (
        "central directory" in msg
        or "failed reading zip archive" in msg
        or isinstance(error, EOFError)
    ):
        return (
            f"{path.name} is truncated or damaged (the file ends too early); save or copy it again."
        )
    return f"{path.name} is not a readable PyTorch checkpoint (corrupt, or another kind of file)."


def _is_state_dict(obj: object) -> bool:
    return (
        isinstance(obj, Mapping)
        and len(obj) > 0
        and all(isinstance(k, str) for k in obj)
        and all(isinstance(v, torch.Tensor) for v in obj.values())
    )


def unpack(obj: object, name: str) -> RawCheckpoint:
    """Find the weights and the facts (architecture, class names...) in a loaded object."""
    if isinstance(obj, torch.jit.ScriptModule):
        raise CheckpointError(f"{name} is a TorchScript model; Pigeonhole needs its state_dict.")
    if isinstance(obj, nn.Module):
        raw = RawCheckpoint(state=obj.state_dict(), kind="module")
        raw.class_names = _names_from(vars(obj), name)
        return raw
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"{name} holds a {type(obj).__name__}, not model weights.")
    if _is_state_dict(obj):
        return RawCheckpoint(state=obj, kind="state_dict")
    for key in WEIGHT_KEYS:
        inner = obj.get(key)
        if isinstance(inner, nn.Module):
            raw = RawCheckpoint(state=inner.state_dict(), kind=f"dict[{key}] (module)")
        elif _is_state_dict(inner):
            raw = RawCheckpoint(state=inner, kind=f"dict[{key}]")
        elif isinstance(inner, Mapping) and any(k in inner for k in WEIGHT_KEYS):
            raw = unpack(inner, name)  # e.g. {"state_dict": {"model": {...}}}
        else:
            continue
        _fill_facts(raw, obj, name)
        return raw
    raise CheckpointError(
        f"{name} holds a dict without weights (keys: {', '.join(map(str, list(obj)[:6]))})."
    )


def _fill_facts(raw: RawCheckpoint, obj: Mapping, name: str) -> None:
    if obj.get("format") == PIGEONHOLE_FORMAT:
        raw.kind = "pigeonhole"
        raw.metadata = {k: v for k, v in obj.items() if k != "model_state_dict"}
    arch = obj.get("arch")
    args = obj.get("args")
    if not isinstance(arch, str) and args is not None:  # torchvision's reference train.py
        get = args.get if isinstance(args, Mapping) else lambda k: getattr(args, k, None)
        arch = get("model") or get("arch")
    raw.arch = arch if isinstance(arch, str) and arch else raw.arch
    names = _names_from(obj, name)
    if names is not None:
        raw.class_names = names
    if isinstance(obj.get("transform"), Mapping):
        raw.transform = dict(obj["transform"])
    for key in HINT_KEYS:
        value = obj.get(key)
        if isinstance(value, argparse.Namespace):
            value = vars(value)
        if isinstance(value, Mapping):
            raw.hints[key] = dict(value)


def _names_from(obj: Mapping, name: str) -> list[str] | None:
    for key in ("class_names", "classes", "idx_to_class", "class_to_idx"):
        value = obj.get(key)
        if value is None or isinstance(value, torch.Tensor):
            continue
        if key == "class_to_idx" and isinstance(value, Mapping):
            return [str(k) for k, _ in sorted(value.items(), key=lambda kv: int(kv[1]))]
        if isinstance(value, Mapping):  # idx -> name
            return [str(v) for _, v in sorted(value.items(), key=lambda kv: int(kv[0]))]
        return _as_names(value, name)
    return None


def _as_names(value: object, name: str) -> list[str]:
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise CheckpointError(f"{name}: the class names are not a list.")
    return [str(v) for v in value]
