"""Heat maps: CAM from the last feature map equals Grad-CAM on global-average-pooling networks,
every family gets a map, maps land on the right pixels of the original photo through the
preprocessing (resize, crop, letterbox), a trained network's map finds the patch that decides
the class, and `pigeonhole explain` writes its files."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from pigeonhole.cli import main
from pigeonhole.core.insight.heatmaps import (
    cam_maps,
    crop_box,
    gradcam_maps,
    heat_maps,
    to_image_pixels,
)
from pigeonhole.core.models.archs import TransformSpec, build_model, get_head
from pigeonhole.core.models.checkpoints import save_checkpoint


def _r(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


@pytest.mark.parametrize("arch", ["resnet18", "densenet121"])
def test_cam_is_gradcam_on_average_pooling_networks(arch):
    torch.manual_seed(0)
    model = build_model(arch, 5).eval()
    x = torch.randn(2, 3, 64, 64)
    cams, grads = cam_maps(model, arch, x), gradcam_maps(model, arch, x)
    for c, g in zip(cams, grads, strict=True):
        assert c.method == "CAM" and g.method == "Grad-CAM" and c.class_index == g.class_index
        assert _r(c.values, g.values) >= 0.99
        assert c.values.min() >= 0 and c.values.max() == pytest.approx(1.0)


@pytest.mark.parametrize(
    "arch, side, method, grid",
    [("squeezenet1_1", 96, "class map", 5), ("mobilenet_v3_small", 96, "Grad-CAM", 3),
     ("vit_b_16", 224, "Grad-CAM", 14), ("convnext_tiny", 96, "CAM", 3)],
)  # fmt: skip
def test_every_family_gets_a_map(arch, side, method, grid):
    torch.manual_seed(0)
    model = build_model(arch, 4).eval()
    head = get_head(model, arch)
    torch.nn.init.normal_(head.weight, std=0.1)  # torchvision starts ViT's head at zero
    (hm,) = heat_maps(model, arch, torch.randn(1, 3, side, side), [2])
    assert hm.method == method and hm.class_index == 2 and hm.values.shape == (grid, grid)
    assert hm.values.min() >= 0 and hm.values.max() == pytest.approx(1.0)


def test_the_map_lies_on_the_right_pixels_after_resize_and_crop():
    spec = TransformSpec(resize=256, crop=224)  # 400x300 -> 341x256, crop from (58, 16)
    assert crop_box(400, 300, spec) == pytest.approx((58 * 400 / 341, 16 * 300 / 256,
                                                      282 * 400 / 341, 240 * 300 / 256))  # fmt: skip
    values = np.zeros((7, 7), np.float32)
    values[3, 6] = 1.0  # centred at input pixel (208, 112)
    full = to_image_pixels(values, spec, 400, 300)
    y, x = np.unravel_index(full.argmax(), full.shape)
    assert abs(x - (208 + 58) * 400 / 341) <= 2 and abs(y - (112 + 16) * 300 / 256) <= 2
    assert full[:, :40].max() == 0  # cropped away: the network never saw it


def test_the_map_of_a_letterboxed_model_skips_the_bars():
    spec = TransformSpec(resize=224, crop=224, resize_mode="letterbox")  # 400x200 -> 224x112
    values = np.zeros((7, 7), np.float32)
    values[0, :] = 1.0  # the top bar only: nothing of the photo
    assert to_image_pixels(values, spec, 400, 200).max() == 0
    values[:] = 0
    values[3, 3] = 1.0  # the canvas centre is the photo's centre
    full = to_image_pixels(values, spec, 400, 200)
    y, x = np.unravel_index(full.argmax(), full.shape)
    assert abs(x - 200) <= 2 and abs(y - 100) <= 2


@pytest.mark.parametrize(
    "mode, size",
    [("letterbox", (400, 200)), ("letterbox", (150, 300)), ("shorter", (300, 200)),
     ("exact", (200, 300))],
)  # fmt: skip
def test_a_map_hot_where_the_network_saw_the_square_lies_on_the_square(mode, size):
    """Round trip through the real preprocessing (letterbox with bars above and below, or
    beside; the shorter-side resize and crop; a stretch): find the red square in the network's
    input, make a coarse map hot there (a 14x14 grid, as a last stage gives), carry it back:
    its peak lies on the square in the photo."""
    from pigeonhole.core.data.preprocessing import preprocess

    spec = TransformSpec(resize=112, crop=96 if mode == "shorter" else 112, resize_mode=mode)
    w, h = size
    img = Image.new("RGB", size, (128, 128, 128))
    side = min(size) // 5
    x0, y0 = int(0.7 * w) - side // 2, int(0.4 * h) - side // 2
    ImageDraw.Draw(img).rectangle((x0, y0, x0 + side - 1, y0 + side - 1), fill=(230, 30, 30))
    x = preprocess(img, spec)
    square = ((x[0] - x[2]) > 1.5).float()  # red high, blue low: only the square
    assert 0 < square.mean() < 0.2
    values = torch.nn.functional.avg_pool2d(square[None, None], square.shape[-1] // 14)[0, 0]
    full = to_image_pixels((values / values.max()).numpy(), spec, w, h)
    py, px = np.unravel_index(full.argmax(), full.shape)
    cell = max(w, h) / 14  # one map cell on the photo, at most
    assert x0 - cell / 2 <= px <= x0 + side + cell / 2
    assert y0 - cell / 2 <= py <= y0 + side + cell / 2
    assert full[y0 : y0 + side, x0 : x0 + side].mean() > 0.35  # the square is covered...
    assert (full > 0.5).mean() < 3 * side * side / (w * h)  # ...and not much else


def patch_image(label: str, seed: int, side: int = 128) -> tuple[Image.Image, tuple[int, int]]:
    """Varied noisy background; the class is only the colour of a small square at a random
    place. Returns the image and the square's centre."""
    rng = random.Random(seed)
    noise = np.random.default_rng(seed).integers(60, 200, (side // 8, side // 8, 3), np.uint8)
    img = Image.fromarray(noise).resize((side, side), Image.Resampling.BILINEAR)
    size = 24
    x, y = rng.randint(0, side - size), rng.randint(0, side - size)
    colour = (230, 30, 30) if label == "red" else (30, 30, 230)
    ImageDraw.Draw(img).rectangle((x, y, x + size - 1, y + size - 1), fill=colour)
    return img, (x + size // 2, y + size // 2)


#: How each network is trained through on the patch images: ResNet-18 with SGD; MobileNetV3
#: (a Grad-CAM family) from scratch needs AdamW.
PATCH_TRAINING = {
    "resnet18": lambda params: torch.optim.SGD(params, lr=0.02, momentum=0.9),
    "mobilenet_v3_small": lambda params: torch.optim.AdamW(params, lr=2e-3),
}


def trained_on_patches(n: int = 160, epochs: int = 6, arch: str = "resnet18"):
    """A network trained through on patch images (128 px input: a 4x4 last stage)."""
    spec = TransformSpec(resize=128, crop=128)
    from pigeonhole.core.data.preprocessing import preprocess

    labels = ["red", "blue"]
    x = torch.stack([preprocess(patch_image(labels[i % 2], i)[0], spec) for i in range(n)])
    y = torch.tensor([i % 2 for i in range(n)])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = build_model(arch, 2)
        opt = PATCH_TRAINING[arch](model.parameters())
        model.train()
        for _ in range(epochs):
            for idx in torch.randperm(n).split(16):
                opt.zero_grad()
                torch.nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
                opt.step()
        settle_batchnorm(model, x)
    return model.eval(), spec


@torch.no_grad()
def settle_batchnorm(model: torch.nn.Module, x: torch.Tensor) -> None:
    """BatchNorm layers with a slow momentum (MobileNetV3's 0.01) have barely moved their
    running statistics in a few dozen steps, so the trained network fails in eval mode: measure
    them again over the training images (ResNet's 0.1 is left as trained)."""
    slow = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d) and m.momentum < 0.1]
    if not slow:
        return
    for m in slow:
        m.reset_running_stats()
        m.momentum = None  # a plain average over the batches below
    model.train()
    for batch in x.split(32):
        model(batch)


@pytest.mark.slow
def test_the_map_finds_the_patch_that_decides_the_class():
    model, spec = trained_on_patches()
    from pigeonhole.core.data.preprocessing import preprocess

    held = [patch_image(("red", "blue")[i % 2], 10_000 + i) for i in range(24)]
    x = torch.stack([preprocess(img, spec) for img, _ in held])
    hits = {"CAM": 0, "Grad-CAM": 0}
    for maps in (cam_maps(model, "resnet18", x), gradcam_maps(model, "resnet18", x)):
        for hm, (img, (cx, cy)) in zip(maps, held, strict=True):
            full = to_image_pixels(hm.values, spec, img.width, img.height)
            py, px = np.unravel_index(full.argmax(), full.shape)
            hits[hm.method] += abs(px - cx) <= 32 and abs(py - cy) <= 32
    print(f"peak within one last-stage cell (32 px) of the patch: {hits} of {len(held)}")
    assert hits["CAM"] >= hits["Grad-CAM"] and hits["CAM"] >= 0.6 * len(held)


def test_explain_writes_a_map_per_image(tmp_path, capsys):
    torch.manual_seed(0)
    ck = tmp_path / "m.pth"
    save_checkpoint(
        ck, build_model("resnet18", 2), "resnet18", ["red", "blue"], TransformSpec(72, 64)
    )
    photos = tmp_path / "photos"
    (photos / "b").mkdir(parents=True)
    patch_image("red", 1, 100)[0].resize((120, 90)).save(photos / "a.jpg")
    patch_image("blue", 2, 100)[0].save(photos / "b" / "a.jpg")  # the same name elsewhere
    (photos / "broken.jpg").write_bytes(b"not an image")
    out = tmp_path / "maps"
    assert main(["explain", str(photos), "--checkpoint", str(ck), "--out", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and sum("error:" in line for line in lines) == 1
    first, second = np.load(out / "a.cam.npy"), np.load(out / "a_1.cam.npy")
    assert first.shape == (90, 120) and second.shape == (100, 100) and first.dtype == np.float32
    assert first.min() >= 0 and first.max() <= 1
    assert Image.open(out / "a.cam.png").size == (120, 90)
    argv = ["explain", str(photos), "--checkpoint", str(ck), "--out", str(out)]
    assert main([*argv, "--class", "green"]) == 2  # refused before any work
    assert "not one of the model's" in capsys.readouterr().err
    assert main(["explain", str(photos), "--checkpoint", str(ck), "--out", str(ck)]) == 2
