"""Why a label was given: class-activation heat maps, laid on the original photo's pixels.

One function per method, chosen by where the architecture's map is read (``CamTarget``, in
core.models.cam_targets):

* :func:`cam_maps`: networks that end in global average pooling and a linear layer (ResNet,
  RegNet, EfficientNet, MobileNetV2, DenseNet, ConvNeXt, ShuffleNet, MNASNet, GoogLeNet,
  Inception): the head's weights applied to the last feature map, which the forward pass
  computes anyway. No gradient; it equals Grad-CAM up to scale on these networks (the Grad-CAM
  paper's argument: the gradient of a class score through average pooling and a linear layer
  is that layer's weight, the same at every position).
* :func:`classmap_maps`: SqueezeNet's last feature map has a channel per class already.
* :func:`gradcam_maps`: the rest (ViT, Swin, MaxViT, VGG, AlexNet, MobileNetV3): Grad-CAM
  (Selvaraju et al.) on demand, one backward pass per image, at the layer the registry names.

Hooks are registered for one call and always removed. Maps come out on the network's input
grid (the centre crop), then :func:`to_image_pixels` carries one back through the inverse of the
model's preprocessing (the resize rule, the centre crop, a letterbox's bars) onto the original
image's own pixels, so it lies on what the network looked at. Values are in [0, 1]; pixels the
network never saw (cropped away, or the letterbox's bars) are 0."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..models.archs import head_info
from ..models.cam_targets import CamTarget, cam_target
from .heatmap_pixels import Explanation, crop_box, heat_colours, overlay, to_image_pixels


@dataclass(frozen=True, slots=True)
class HeatMap:
    """A map on the network's input grid (``values``: (h, w) float32 in [0, 1]) for
    ``class_index``, made by ``method``."""

    values: np.ndarray
    class_index: int
    method: str
    logits: np.ndarray  # the image's logits (the forward pass the map came from)


def _capture(model: nn.Module, layer: str):
    """A forward hook on ``layer`` that keeps its output; returns (store, handle)."""
    store: dict[str, torch.Tensor] = {}

    def keep(_module, _inputs, output):
        store["out"] = output

    return store, model.get_submodule(layer).register_forward_hook(keep)


def as_nchw(x: torch.Tensor, target: CamTarget) -> torch.Tensor:
    """The layer's output as (N, C, h, w)."""
    if target.layout == "nhwc":
        return x.permute(0, 3, 1, 2)
    if target.layout == "tokens":  # (N, 1 + h*w, C): drop the class token, make the grid
        patches = x[:, 1:, :]
        side = int(round(patches.shape[1] ** 0.5))
        return patches.transpose(1, 2).reshape(x.shape[0], -1, side, side)
    return x


def _normalised(maps: torch.Tensor) -> np.ndarray:
    """The maps in [0, 1] as the person sees them (core.runtime.kept.normalised_maps: the same
    rule for maps kept from a run)."""
    from ..runtime.kept import normalised_maps

    return normalised_maps(maps.detach().float().cpu().numpy())


def _classes(logits: torch.Tensor, classes: Sequence[int | None] | None) -> list[int]:
    top = logits.argmax(1).tolist()
    if classes is None:
        return top
    return [t if c is None else int(c) for c, t in zip(classes, top, strict=True)]


def cam_weights(model: nn.Module, arch: str) -> tuple[torch.Tensor, nn.Module | None]:
    """The classification layer's weight (classes, C) and, for ConvNeXt, the LayerNorm its head
    applies to the pooled features first (None elsewhere)."""
    head_path = head_info(arch).path
    weight = model.get_submodule(head_path).weight.detach()
    parent = head_path.rsplit(".", 1)[0] if "." in head_path else ""
    norm = None
    if parent:
        first = next(iter(model.get_submodule(parent).children()))
        if isinstance(first, nn.LayerNorm) or type(first).__name__ == "LayerNorm2d":
            norm = first
    return weight.reshape(weight.shape[0], -1), norm


def _forward(model: nn.Module, layer: str, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(logits, the output of ``layer``) from one forward pass; the hook is always removed."""
    store, handle = _capture(model, layer)
    try:
        logits = model(x)
    finally:
        handle.remove()
    return logits, store["out"]


@torch.no_grad()
def cam_maps(
    model: nn.Module, arch: str, x: torch.Tensor, classes: Sequence[int | None] | None = None
) -> list[HeatMap]:
    """CAM for a batch ``x`` (the model's normalised input): one forward pass."""
    target = cam_target(arch)
    logits, out = _forward(model, target.layer, x)
    fmap = as_nchw(out, target).float()
    if target.relu:
        fmap = fmap.clamp(min=0)
    weight, norm = cam_weights(model, arch)
    picked = _classes(logits, classes)
    w = weight[picked].float()  # (n, C): only the classes asked about
    if norm is not None:  # ConvNeXt: LayerNorm on the pooled vector, then the linear layer
        pooled = fmap.mean((2, 3))
        w = w * norm.weight.detach() / (pooled.var(1, unbiased=False) + norm.eps).sqrt()[:, None]
    maps = torch.einsum("nc,nchw->nhw", w, fmap)
    return _records(maps, picked, "CAM", logits)


@torch.no_grad()
def classmap_maps(
    model: nn.Module, arch: str, x: torch.Tensor, classes: Sequence[int | None] | None = None
) -> list[HeatMap]:
    """SqueezeNet: the class's own channel of the last feature map."""
    logits, out = _forward(model, cam_target(arch).layer, x)
    picked = _classes(logits, classes)
    maps = out[torch.arange(len(picked)), picked]
    return _records(maps, picked, "class map", logits)


def gradcam_maps(
    model: nn.Module,
    arch: str,
    x: torch.Tensor,
    classes: Sequence[int | None] | None = None,
    layer: str | None = None,
) -> list[HeatMap]:
    """Grad-CAM: the layer's activations weighted by the class score's mean gradient over each
    channel. One forward and one backward pass for the batch. ``layer``: another layer than
    the registry's (same layout), e.g. a finer one as a reference."""
    target = cam_target(arch)
    if layer is not None:
        target = dataclasses.replace(target, layer=layer)
    store, handle = _capture(model, target.layer)
    was_training = model.training
    try:
        model.eval()
        with torch.enable_grad():
            x = x.detach().requires_grad_(True)  # gradients flow even with frozen weights
            logits = model(x)
            picked = _classes(logits, classes)
            score = logits[torch.arange(len(picked)), picked].sum()
            activation = store["out"]
            (grad,) = torch.autograd.grad(score, activation)
    finally:
        handle.remove()
        model.train(was_training)
    act = as_nchw(activation.detach(), target).float()
    grad = as_nchw(grad, target).float()
    alpha = grad.mean((2, 3), keepdim=True)
    maps = (alpha * act).sum(1)
    return _records(maps, picked, "Grad-CAM", logits.detach())


def _records(maps: torch.Tensor, picked: list[int], method: str, logits) -> list[HeatMap]:
    values = _normalised(maps)
    out = logits.detach().float().cpu().numpy()
    return [HeatMap(values[i], picked[i], method, out[i]) for i in range(len(picked))]


def heat_maps(
    model: nn.Module, arch: str, x: torch.Tensor, classes: Sequence[int | None] | None = None
) -> list[HeatMap]:
    """The registry's method for ``arch``: CAM, the class map, or Grad-CAM."""
    method = cam_target(arch).method
    fn = {"cam": cam_maps, "classmap": classmap_maps}.get(method, gradcam_maps)
    return fn(model, arch, x, classes)


def explain_files(loaded, paths: Sequence[str], class_name: str | None = None, batch_size: int = 8):
    """Generator: an Explanation per file, in order (a file that cannot be decoded has its
    ``error``). ``class_name``: the class to explain ("why not this class"); None: each image's
    top class. Runs the torch model on the CPU (Grad-CAM needs gradients)."""
    from ..data.images import load_image
    from ..data.preprocessing import preprocess
    from ..errors import ImageLoadError

    index = None if class_name is None else loaded.class_names.index(class_name)
    model = loaded.model
    for start in range(0, len(paths), batch_size):
        batch, images = [], []
        for path in paths[start : start + batch_size]:
            try:
                img = load_image(path)
            except ImageLoadError as e:
                yield Explanation(str(path), None, "", 0.0, "", str(e))
                continue
            images.append((str(path), img))
            batch.append(preprocess(img, loaded.transform))
        if not batch:
            continue
        maps = heat_maps(model, loaded.arch, torch.stack(batch), [index] * len(batch))
        for (path, img), hm in zip(images, maps, strict=True):
            probs = np.exp(hm.logits - hm.logits.max())
            probs /= probs.sum()
            full = to_image_pixels(hm.values, loaded.transform, img.width, img.height)
            yield Explanation(
                path, full, loaded.class_names[hm.class_index], float(probs[hm.class_index]),
                hm.method, image=img,
            )  # fmt: skip


__all__ = [
    "Explanation", "HeatMap", "cam_maps", "classmap_maps", "crop_box", "explain_files",
    "gradcam_maps", "heat_colours", "heat_maps", "overlay", "to_image_pixels",
]  # fmt: skip
