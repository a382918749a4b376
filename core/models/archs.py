"""Registry of every torchvision classification architecture, readable without torchvision.

Each :class:`ArchSpec` carries every per-architecture fact the rest of the app needs (one record,
no side tables): family, display name, the eval transform (a core.models.transforms spec),
ImageNet metadata, whether channels_last helps it, its auxiliary heads, the hint that identifies
its weights, and (computed lazily, from a weightless "meta" build) where the classification head
is and its input size.

What torchvision says is read from the shipped snapshot ``archs.json`` (core.models.arch_discovery
writes it), so listing architectures, their preprocessing and `pigeonhole models` never import
torch; only when the installed torchvision is another version is it asked directly. Building a
network imports torch and torchvision, in the functions that build.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import json
import logging
import re
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ArchitectureError
from .transforms import TransformSpec

if TYPE_CHECKING:
    from torch import nn


log = logging.getLogger(__name__)

#: The architectures the product card names first; the GUI and `models` table put them on top.
SEED_ARCHS = (
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "resnext50_32x4d",
    "vgg16",
    "mobilenet_v2",
)

# Auxiliary classifiers (key prefixes in their state dicts). These models are built without them
# (inference and head training never use them) and with ``transform_input=True``, as
# torchvision's ImageNet weights (and so nearly every fine-tune of them) expect.
_AUX_PREFIXES = {"googlenet": ("aux1.", "aux2."), "inception_v3": ("AuxLogits.",)}
# Transformers gain nothing from channels_last (measured); convolutional families do.
_NO_CHANNELS_LAST = {"ViT", "Swin", "MaxViT"}
# Families whose CPU runs stay on torch with --engine auto, and why (measured with
# benchmarks/bench_engines.py on 2 cores, AVX-512): ONNX Runtime fp32 took 1.03x (ResNet-18) to
# 1.7x (MobileNetV2) less CPU per image than torch for one network of every family, but with two
# batches side by side (as runs go) ViT-B/16 ran at 0.60x torch's speed, which keeps its fused
# attention kernel. Networks over 2 GB (vit_h_14, regnet_y_128gf) fall back at run time.
_TORCH_ON_CPU: dict[str, str] = {
    "ViT": "ONNX Runtime ran ViT slower than torch's fused attention here (0.6x, measured)",
}
IDENTITY_HINTS_FILE = Path(__file__).with_name("identity_hints.json")
SNAPSHOT_FILE = Path(__file__).with_name("archs.json")  # written by core.models.arch_discovery

_FAMILY_NAMES = {
    "resnet": "ResNet",
    "resnext": "ResNeXt",
    "wide_resnet": "Wide ResNet",
    "vgg": "VGG",
    "mobilenet": "MobileNet",
    "efficientnet": "EfficientNet",
    "convnext": "ConvNeXt",
    "vit": "ViT",
    "swin": "Swin",
    "maxvit": "MaxViT",
    "regnet": "RegNet",
    "densenet": "DenseNet",
    "googlenet": "GoogLeNet",
    "inception": "Inception",
    "squeezenet": "SqueezeNet",
    "shufflenet": "ShuffleNet",
    "mnasnet": "MNASNet",
    "alexnet": "AlexNet",
}


@dataclass(frozen=True, slots=True)
class HeadInfo:
    path: str  # dotted module path, e.g. "fc", "classifier.6", "heads.head"
    in_features: int
    kind: str  # "linear" or "conv" (SqueezeNet's 1x1 conv classifier)


@dataclass(frozen=True, slots=True)
class IdentityHint:
    """What picks an architecture's weights out cheaply: how many tensors its state dict has
    (BatchNorm step counters and auxiliary heads left out), its first and its last key."""

    tensors: int
    first_key: str
    last_key: str


@dataclass(frozen=True, slots=True)
class ArchSpec:
    name: str  # torchvision's name: "resnet18"
    family: str  # "ResNet"
    display_name: str  # "ResNet18"
    transform: TransformSpec
    params: int | None  # parameter count with the 1000-class head
    gflops: float | None
    top1: float | None  # ImageNet-1K acc@1 of the default weights
    top5: float | None
    has_pretrained: bool
    weights_name: str | None  # "ResNet18_Weights.IMAGENET1K_V1"
    weights_url: str | None
    weights_size_mb: float | None
    is_seed: bool
    channels_last: bool = True  # convolutions run faster in channels_last memory format
    aux_prefixes: tuple[str, ...] = ()  # key prefixes of auxiliary classifiers
    identity_hint: IdentityHint | None = None  # shipped for this torchvision; else computed
    cpu_engine: str = "onnxruntime"  # what --engine auto runs on the CPU: "onnxruntime" | "torch"
    cpu_engine_reason: str = ""  # why torch, when it is torch

    @property
    def head(self) -> HeadInfo:
        return head_info(self.name)

    def builder_kwargs(self, num_classes: int) -> dict:
        """Arguments for torchvision's builder: the class count, and no auxiliary heads."""
        kwargs: dict = {"num_classes": num_classes}
        if self.aux_prefixes:
            kwargs.update(aux_logits=False, transform_input=True, init_weights=False)
        return kwargs


def family_key(name: str) -> str:
    m = re.match(r"(wide_resnet|[a-z]+)", name)
    key = m.group(1) if m else name
    return "inception" if key == "inception" else key


@functools.cache
def installed_torchvision() -> str | None:
    """The installed torchvision's version ("0.29.1"), read from its files without importing
    it; None when it is not installed or its version cannot be read (a frozen build)."""
    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.origin:
        return None
    try:
        text = Path(spec.origin).with_name("version.py").read_text(encoding="utf-8")
    except OSError:
        return None
    m = re.search(r"""^__version__\s*=\s*['"]([^'"+]+)""", text, re.M)
    return m.group(1) if m else None


@functools.cache
def _snapshot() -> dict:
    """The shipped snapshot, or torchvision's own answer when another torchvision is installed
    (then torchvision is imported, once)."""
    data = json.loads(SNAPSHOT_FILE.read_text(encoding="utf-8"))
    installed = installed_torchvision()
    if installed is not None and installed != data["torchvision"]:
        from .arch_discovery import discover

        log.info(
            "torchvision %s, snapshot of %s: asking torchvision", installed, data["torchvision"]
        )
        data = discover()
    return data


@functools.cache
def _shipped_hints() -> dict[str, IdentityHint]:
    """The identity hints measured for the torchvision they name, if it is the registry's."""
    data = json.loads(IDENTITY_HINTS_FILE.read_text(encoding="utf-8"))
    if _snapshot()["torchvision"] != data["torchvision"]:
        return {}
    return {
        name: IdentityHint(int(n), first, last) for name, (n, first, last) in data["archs"].items()
    }


def _make_spec(name: str, rec: dict) -> ArchSpec:
    key = family_key(name)
    family = _FAMILY_NAMES.get(key, key.replace("_", " ").title())
    return ArchSpec(
        name=name,
        family=family,
        display_name=rec["display_name"],
        transform=TransformSpec.from_dict(rec["transform"]),
        params=rec.get("params"),
        gflops=rec.get("gflops"),
        top1=rec.get("top1"),
        top5=rec.get("top5"),
        has_pretrained=rec.get("weights_name") is not None,
        weights_name=rec.get("weights_name"),
        weights_url=rec.get("weights_url"),
        weights_size_mb=rec.get("weights_size_mb"),
        is_seed=name in SEED_ARCHS,
        channels_last=family not in _NO_CHANNELS_LAST,
        aux_prefixes=_AUX_PREFIXES.get(name, ()),
        identity_hint=_shipped_hints().get(name),
        cpu_engine="torch" if family in _TORCH_ON_CPU else "onnxruntime",
        cpu_engine_reason=_TORCH_ON_CPU.get(family, ""),
    )


@functools.cache
def _registry() -> dict[str, ArchSpec]:
    return {name: _make_spec(name, rec) for name, rec in _snapshot()["archs"].items()}


def imagenet_category_names() -> tuple[str, ...]:
    """The 1000 ImageNet category names (torchvision's, from the snapshot: no torch)."""
    return tuple(_snapshot()["imagenet_categories"])


def list_archs() -> list[ArchSpec]:
    """All architectures: seeds first (in the card's order), then the rest by family and name."""
    reg = _registry()
    seeds = [reg[n] for n in SEED_ARCHS if n in reg]
    rest = sorted(
        (s for s in reg.values() if not s.is_seed), key=lambda s: (s.family, _natural(s.name))
    )
    return seeds + rest


def arch_names() -> list[str]:
    return [s.name for s in list_archs()]


def get_arch(name: str) -> ArchSpec:
    """Look an architecture up by torchvision name (case-insensitive, '-' accepted for '_')."""
    reg = _registry()
    key = str(name).strip().lower().replace("-", "_")
    if key in reg:
        return reg[key]
    import difflib

    close = difflib.get_close_matches(key, list(reg), n=3)
    hint = (
        f" Did you mean {', '.join(close)}?" if close else " Run `pigeonhole models` for the list."
    )
    raise ArchitectureError(f"Unknown architecture '{name}'.{hint}")


def _natural(s: str) -> list:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s)]


# ---------------------------------------------------------------------------------------------
# Building models


_meta_lock = threading.Lock()


@contextlib.contextmanager
def _params_on_meta() -> Iterator[None]:
    """Create parameters and buffers on the meta device (for builders that fail under
    ``torch.device('meta')`` because they compute sizes with tensors)."""
    from torch import nn

    orig_param, orig_buffer = nn.Module.register_parameter, nn.Module.register_buffer

    def register_parameter(self, name, param):
        orig_param(self, name, param)
        if param is not None:
            p = self._parameters[name]
            self._parameters[name] = type(p)(p.to("meta"), requires_grad=p.requires_grad)

    def register_buffer(self, name, tensor, persistent=True):
        orig_buffer(self, name, tensor.to("meta") if tensor is not None else None, persistent)

    with _meta_lock:
        nn.Module.register_parameter = register_parameter
        nn.Module.register_buffer = register_buffer
        try:
            yield
        finally:
            nn.Module.register_parameter = orig_param
            nn.Module.register_buffer = orig_buffer


def build_meta_model(name: str, num_classes: int = 1000) -> nn.Module:
    """A weightless model (no memory, no init time) to inspect shapes and key names."""
    import torch
    from torchvision.models import get_model

    spec = get_arch(name)
    kwargs = spec.builder_kwargs(num_classes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            with torch.device("meta"):
                return get_model(spec.name, **kwargs)
        except (NotImplementedError, RuntimeError):
            with _params_on_meta():
                return get_model(spec.name, **kwargs)


def _find_head(model: nn.Module, num_classes: int) -> tuple[str, nn.Module]:
    from torch import nn

    last = None
    for path, module in model.named_modules():
        if (
            isinstance(module, nn.Linear)
            and module.out_features == num_classes
            or isinstance(module, nn.Conv2d)
            and module.out_channels == num_classes
        ):
            last = (path, module)
    if last is None:
        raise ArchitectureError("Could not find the classification layer of this network.")
    return last


@functools.cache
def head_info(name: str) -> HeadInfo:
    from torch import nn

    model = build_meta_model(name, 1000)
    path, module = _find_head(model, 1000)
    if isinstance(module, nn.Linear):
        return HeadInfo(path, module.in_features, "linear")
    return HeadInfo(path, module.in_channels, "conv")


def get_head(model: nn.Module, arch: str) -> nn.Module:
    return model.get_submodule(head_info(get_arch(arch).name).path)


def make_head(arch: str, num_classes: int) -> nn.Module:
    """A fresh classification layer for ``num_classes`` that fits ``arch``."""
    from torch import nn

    info = head_info(get_arch(arch).name)
    if info.kind == "linear":
        return nn.Linear(info.in_features, num_classes)
    return nn.Conv2d(info.in_features, num_classes, kernel_size=1)


def replace_head(model: nn.Module, arch: str, num_classes: int) -> nn.Module:
    """Swap the classification layer for a new one with ``num_classes`` outputs (in place)."""
    info = head_info(get_arch(arch).name)
    old = model.get_submodule(info.path)
    new = make_head(arch, num_classes)
    ref = next(old.parameters(), None)
    if ref is not None and ref.device.type != "meta":
        new = new.to(device=ref.device, dtype=ref.dtype)
    model.set_submodule(info.path, new)
    if hasattr(model, "num_classes"):
        model.num_classes = num_classes
    return model


def build_model(arch: str, num_classes: int = 1000) -> nn.Module:
    """Build ``arch`` with random weights, in eval mode (ImageNet weights: core.models.imagenet)."""
    from torchvision.models import get_model

    spec = get_arch(arch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = get_model(spec.name, **spec.builder_kwargs(num_classes))
    return model.eval()


def is_aux_key(key: str) -> bool:
    """A weight of an auxiliary classifier (GoogLeNet, Inception v3): never loaded or saved."""
    return key.startswith(_all_aux_prefixes())


@functools.cache
def _all_aux_prefixes() -> tuple[str, ...]:
    return tuple(p for spec in _registry().values() for p in spec.aux_prefixes)


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
