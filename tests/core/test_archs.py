"""The architecture registry: discovery, metadata, transforms, head location and replacement."""

from __future__ import annotations

import pytest
import torch

from pigeonhole.core.errors import ArchitectureError
from pigeonhole.core.models.archs import (
    SEED_ARCHS,
    TransformSpec,
    arch_names,
    build_meta_model,
    build_model,
    get_arch,
    get_head,
    head_info,
    list_archs,
    make_head,
    replace_head,
)


def test_every_torchvision_classifier_is_discovered_seeds_first():
    specs = list_archs()
    assert len(specs) == 80
    assert [s.name for s in specs[: len(SEED_ARCHS)]] == list(SEED_ARCHS)
    assert all(s.is_seed == (s.name in SEED_ARCHS) for s in specs)
    assert len(set(arch_names())) == 80
    assert {
        "alexnet",
        "convnext_tiny",
        "swin_v2_t",
        "maxvit_t",
        "vit_h_14",
        "regnet_y_128gf",
    } <= set(arch_names())


def test_metadata_of_a_seed():
    spec = get_arch("resnet50")
    assert spec.family == "ResNet" and spec.display_name == "ResNet50"
    assert spec.params == 25_557_032 and spec.has_pretrained
    assert spec.top1 and spec.top1 > 75
    assert spec.weights_url.endswith(".pth") and spec.weights_name.startswith("ResNet50_Weights.")
    assert get_arch("resnext50_32x4d").family == "ResNeXt"
    assert get_arch("wide_resnet50_2").family == "Wide ResNet"


def test_lookup_is_forgiving_and_errors_suggest():
    assert get_arch(" ResNet18 ").name == "resnet18"
    assert get_arch("Wide-ResNet50-2").name == "wide_resnet50_2"
    with pytest.raises(ArchitectureError, match="Did you mean resnet50"):
        get_arch("resnet05")
    with pytest.raises(ArchitectureError, match="pigeonhole models"):
        get_arch("zzzzzz")


@pytest.mark.parametrize(
    ("arch", "resize", "crop", "interpolation"),
    [
        ("inception_v3", 342, 299, "bilinear"),
        ("resnet18", 256, 224, "bilinear"),
        ("efficientnet_b3", 320, 300, "bicubic"),
        ("vit_b_16", 256, 224, "bilinear"),
    ],
)
def test_transforms_come_from_the_weights(arch, resize, crop, interpolation):
    t = get_arch(arch).transform
    assert (t.resize, t.crop, t.interpolation) == (resize, crop, interpolation)
    assert t.mean == pytest.approx((0.485, 0.456, 0.406))
    assert TransformSpec.from_dict(t.to_dict()) == t


@pytest.mark.parametrize(
    ("arch", "path", "in_features", "kind"),
    [
        ("resnet18", "fc", 512, "linear"),
        ("resnet50", "fc", 2048, "linear"),
        ("vgg16", "classifier.6", 4096, "linear"),
        ("vit_b_16", "heads.head", 768, "linear"),
        ("swin_t", "head", 768, "linear"),
        ("squeezenet1_1", "classifier.1", 512, "conv"),
        ("mobilenet_v2", "classifier.1", 1280, "linear"),
        ("densenet121", "classifier", 1024, "linear"),
        ("maxvit_t", "classifier.5", 512, "linear"),
    ],
)
def test_head_location(arch, path, in_features, kind):
    info = head_info(arch)
    assert (info.path, info.in_features, info.kind) == (path, in_features, kind)


@pytest.mark.parametrize(
    ("arch", "size"),
    [
        ("resnet18", 64),
        ("mobilenet_v3_small", 64),
        ("squeezenet1_1", 64),
    ],
)
def test_replace_head_gives_the_right_output(arch, size):
    torch.manual_seed(0)
    model = build_model(arch, num_classes=1000)
    replace_head(model, arch, 3)
    assert isinstance(get_head(model, arch), type(make_head(arch, 3)))
    with torch.no_grad():
        out = model.eval()(torch.rand(2, 3, size, size))
    assert out.shape == (2, 3)


@pytest.mark.parametrize(
    "arch",
    [
        "vit_b_16",
        "swin_t",
        "convnext_tiny",
        "vgg16",
        "inception_v3",
        "efficientnet_b0",
        "regnet_x_400mf",
    ],
)
def test_replace_head_shapes_on_big_models(arch):
    """Shape-only forward on the meta device: no memory, no weights (ViT needs 224x224)."""
    model = replace_head(build_meta_model(arch, 1000), arch, 5).to("meta").eval()
    size = 299 if arch == "inception_v3" else 224
    with torch.no_grad():
        out = model(torch.empty(2, 3, size, size, device="meta"))
    assert out.shape == (2, 5)


def test_build_model_random_weights_sized_for_classes():
    model = build_model("mobilenet_v3_small", num_classes=7)
    assert not model.training
    assert model.classifier[3].out_features == 7
    assert all(p.device.type == "cpu" for p in model.parameters())


def test_the_shipped_snapshot_is_what_the_installed_torchvision_says():
    """archs.json (read without torchvision) holds exactly what torchvision says; after an
    upgrade, regenerate it with core.models.arch_discovery.write_snapshot."""
    import json

    from pigeonhole.core.models import arch_discovery, archs

    shipped = json.loads(archs.SNAPSHOT_FILE.read_text(encoding="utf-8"))
    assert archs.installed_torchvision() == shipped["torchvision"]
    assert arch_discovery.discover() == shipped
    assert len(archs.imagenet_category_names()) == 1000
