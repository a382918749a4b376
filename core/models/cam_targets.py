"""Where each architecture's heat map is read (core.insight.heatmaps, core.runtime.explained):
per family, the layer whose output is the last feature map and the method that turns it into a
map, with the traps known from Grad-CAM's users. Listing which families keep their maps from the
forward pass needs no torch (:func:`maps_from_forward`); the Grad-CAM families' layers are read
off a meta-device model."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from .archs import build_meta_model, family_key, get_arch


@dataclass(frozen=True, slots=True)
class CamTarget:
    """Where an architecture's heat map is read (core.insight.heatmaps).

    ``method``: "cam" when the network ends in global average pooling and a linear layer (the
    class-activation map is the head's weights applied to the last feature map: no gradient);
    "classmap" when the last feature map already has one channel per class (SqueezeNet);
    "gradcam" otherwise (gradients on demand). ``layer``: the module whose output is that map.
    ``layout``: "nchw", "nhwc" (Swin), or "tokens" (ViT: the class token, then the patch grid).
    ``relu``: the network applies a ReLU to the map before pooling (DenseNet)."""

    method: str
    layer: str
    layout: str = "nchw"
    relu: bool = False


#: The last feature map of each family whose head is global average pooling + a linear layer.
_CAM_LAYERS = {
    "resnet": "layer4",
    "resnext": "layer4",
    "wide_resnet": "layer4",
    "regnet": "trunk_output",
    "efficientnet": "features",
    "convnext": "features",
    "densenet": "features",
    "shufflenet": "conv5",
    "mnasnet": "layers",
    "googlenet": "inception5b",
    "inception": "Mixed_7c",
}


def maps_from_forward(name: str) -> bool:
    """The architecture's heat maps come from its forward pass (CAM, SqueezeNet's class map),
    so a run can keep them; the rest need gradients (Grad-CAM, on demand). Without torch."""
    name = get_arch(name).name
    key = family_key(name)
    return name == "mobilenet_v2" or key in _CAM_LAYERS or key == "squeezenet"


@functools.cache
def cam_target(name: str) -> CamTarget:
    """Where ``name``'s heat map is read: per family, with the traps known from Grad-CAM's
    users: ViT's last block gives its patch tokens no gradient (the block before it is read,
    class token dropped); Swin localises at the last block's ``norm2``, not ``norm1``."""
    name = get_arch(name).name
    key = family_key(name)
    if name == "mobilenet_v2":
        return CamTarget("cam", "features")
    if key in _CAM_LAYERS:
        return CamTarget("cam", _CAM_LAYERS[key], relu=key == "densenet")
    if key == "squeezenet":
        return CamTarget("classmap", "classifier.2")
    model = build_meta_model(name)
    if key == "vit":
        blocks = [n for n, _m in model.encoder.layers.named_children()]
        return CamTarget("gradcam", f"encoder.layers.{blocks[-2]}", "tokens")
    if key == "swin":
        stage = len(model.features) - 1
        return CamTarget(
            "gradcam", f"features.{stage}.{len(model.features[stage]) - 1}.norm2", "nhwc"
        )
    if key == "maxvit":
        return CamTarget("gradcam", f"blocks.{len(model.blocks) - 1}")
    return CamTarget("gradcam", "features")  # VGG, AlexNet, MobileNetV3
