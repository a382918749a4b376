"""A network that outputs what a run keeps besides the logits, from the same forward pass: the
class-activation maps of every class and the vector its classification layer sees (the
embedding). torch runs it as it is; ONNX Runtime runs its export, whose graph then has these
as extra outputs (int8 too): no engine needs a second pass to draw a map or find a neighbour.

The values are read by forward hooks ("taps") on the last feature map's layer and on the
classification layer. Taps are registered once per module (hooks added in a loop leak) and
record only during this wrapper's own forward pass, on the thread running it (the forward
threads share one model), so other users of the model (training, Grad-CAM) are unaffected.
"""

from __future__ import annotations

import threading
import weakref

import torch
from torch import nn

from ..insight.heatmaps import as_nchw, cam_weights
from ..models.archs import head_info
from ..models.cam_targets import cam_target, maps_from_forward
from .kept import (
    ALL_MAPS_UP_TO,
    CAM_CLASSES_OUTPUT,
    CAM_OUTPUT,
    CLASSMAP_OUTPUT,
    EMBEDDING_OUTPUT,
    TOP_MAPS,
)

_TAPS: weakref.WeakKeyDictionary[nn.Module, dict[str, _Tap]] = weakref.WeakKeyDictionary()
_TAPS_LOCK = threading.Lock()


class _Tap:
    """A hook on one module that keeps its output (or, ``pre``, its input) while recording."""

    def __init__(self, module: nn.Module, pre: bool):
        self.local = threading.local()
        if pre:
            module.register_forward_pre_hook(lambda _m, args: self._keep(args[0]))
        else:
            module.register_forward_hook(lambda _m, _args, out: self._keep(out))

    def _keep(self, value) -> None:
        if getattr(self.local, "recording", False):
            self.local.value = value

    def start(self) -> None:
        self.local.recording, self.local.value = True, None

    def take(self) -> torch.Tensor:
        value, self.local.value, self.local.recording = self.local.value, None, False
        if value is None:
            raise RuntimeError("the layer to read was not run by the forward pass")
        return value


def _tap(model: nn.Module, layer: str, pre: bool) -> _Tap:
    with _TAPS_LOCK:
        taps = _TAPS.setdefault(model, {})
        key = f"{'in' if pre else 'out'}:{layer}"
        if key not in taps:
            taps[key] = _Tap(model.get_submodule(layer), pre)
        return taps[key]


class Explained(nn.Module):
    """``model`` with its outputs (logits, then the maps and the embedding that were asked for
    and that the architecture has: ``output_names`` says which, in order). The maps are
    (N, classes, h, w) on the last feature map's grid, before ReLU and scaling
    (core.runtime.kept makes them the person's maps); with more than ALL_MAPS_UP_TO classes
    CAM makes only the TOP_MAPS best classes' maps (N, TOP_MAPS, h, w), best first, and their
    classes follow as ``cam_classes`` (N, TOP_MAPS). The embedding is (N, D)."""

    def __init__(self, model: nn.Module, arch: str, *, maps: bool = True, embedding: bool = True):
        super().__init__()
        self.model = model
        # The wrapper's own mode is the model's: whoever sets it back after a call (the ONNX
        # export does) must not put the person's model into training mode.
        self.training = model.training
        self.target = cam_target(arch)
        self.output_names: list[str] = ["output"]
        self.map_tap = self.head_tap = None
        self.top_maps = 0
        if maps and maps_from_forward(arch):
            self.map_tap = _tap(model, self.target.layer, pre=False)
            self.output_names.append(CAM_OUTPUT if self.target.method == "cam" else CLASSMAP_OUTPUT)
            if self.target.method == "cam":
                weight, norm = cam_weights(model, arch)
                if norm is not None:  # ConvNeXt: the LayerNorm's per-channel scale first (its
                    weight = weight * norm.weight.detach()  # per-image scale cancels out)
                # A buffer, in the state dict: it moves with the model to its device and dtype.
                self.register_buffer("cam_weight", weight.detach().float().clone())
                if len(weight) > ALL_MAPS_UP_TO:
                    self.top_maps = TOP_MAPS
                    self.output_names.append(CAM_CLASSES_OUTPUT)
        if embedding:
            self.head_tap = _tap(model, head_info(arch).path, pre=True)
            self.output_names.append(EMBEDDING_OUTPUT)

    @property
    def extra_outputs(self) -> tuple[str, ...]:
        return tuple(self.output_names[1:])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        taps = [t for t in (self.map_tap, self.head_tap) if t is not None]
        for t in taps:
            t.start()
        try:
            logits = self.model(x)
            values = [t.take() for t in taps]
        finally:
            for t in taps:
                t.local.recording, t.local.value = False, None
        if isinstance(logits, tuple | list):
            logits = logits[0]
        outs = [logits]
        if self.map_tap is not None:
            fmap = as_nchw(values.pop(0), self.target)
            if self.target.method == "cam":
                if self.target.relu:
                    fmap = fmap.clamp(min=0)
                outs += self._cams(fmap, logits)
            else:
                outs.append(fmap)
        if self.head_tap is not None:
            outs.append(values.pop(0).flatten(1))
        return tuple(outs)

    def _cams(self, fmap: torch.Tensor, logits: torch.Tensor) -> list[torch.Tensor]:
        """Every class's map, or the best TOP_MAPS classes' and which classes they are."""
        weight = self.cam_weight.to(fmap.dtype)
        if not self.top_maps:
            return [torch.einsum("kc,nchw->nkhw", weight, fmap)]
        classes = logits.topk(self.top_maps, dim=1).indices
        n, c, h, w = fmap.shape
        maps = torch.bmm(weight[classes], fmap.reshape(n, c, h * w)).reshape(n, -1, h, w)
        return [maps, classes]
