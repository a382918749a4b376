"""Heat-map benchmark: does the map find what decides the class, does CAM equal Grad-CAM, and
what does a map cost on this CPU.

1. Right place: generated 128 px images whose class is only the colour of a 24 px square at a
   random place on a noisy background; a ResNet-18 trained through on them (the test helper);
   on held-out images, how often the map's peak lies within one last-stage cell (32 px) of the
   square, for CAM and for Grad-CAM at the same layer. The same for a Grad-CAM family,
   MobileNetV3-Small (ConvNeXt-T and ViT-B/16 cost too much to train from scratch on a 2-core
   CPU), on fewer images: Grad-CAM at the registry's layer against two references, Grad-CAM at
   a finer layer (stride 16) and the plain gradient times the input.
2. CAM vs Grad-CAM: Pearson r between the two maps on the same images (goal >= 0.99).
3. Cost: one image's map on demand: CAM on ResNet-50, Grad-CAM on ResNet-50 and ViT-B/16 (the
   forward pass included), against the forward pass alone.

    python benchmarks/bench_heatmaps.py [--held-out 48] [--only resnet|mobilenet|cost]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pigeonhole.core.data.preprocessing import preprocess  # noqa: E402
from pigeonhole.core.insight.heatmaps import cam_maps, gradcam_maps, to_image_pixels  # noqa: E402
from pigeonhole.core.models.archs import build_model, get_head  # noqa: E402
from pigeonhole.core.models.cam_targets import cam_target  # noqa: E402
from tests.core.test_heatmaps import patch_image, trained_on_patches  # noqa: E402


def hits(maps, held, spec) -> tuple[int, int]:
    """(peaks within 32 px of the square's centre, peaks inside the 24 px square)."""
    near = inside = 0
    for values, (img, (cx, cy)) in zip(maps, held, strict=True):
        full = to_image_pixels(values, spec, img.width, img.height)
        py, px = np.unravel_index(full.argmax(), full.shape)
        near += abs(px - cx) <= 32 and abs(py - cy) <= 32
        inside += abs(px - cx) <= 12 and abs(py - cy) <= 12
    return near, inside


def held_out_images(n: int, spec):
    held = [patch_image(("red", "blue")[i % 2], 10_000 + i) for i in range(n)]
    return held, torch.stack([preprocess(img, spec) for img, _ in held])


def print_hits(name: str, maps, held, spec) -> None:
    near, inside = hits(maps, held, spec)
    print(f"  {name:<30} peak within 32 px of the square: {near:2} of {len(held)}; "
          f"inside it: {inside}")  # fmt: skip


def right_place(held_out: int) -> None:
    t0 = time.perf_counter()
    model, spec = trained_on_patches()
    print(f"ResNet-18 trained through on 160 patch images in {time.perf_counter() - t0:.0f} s")
    held, x = held_out_images(held_out, spec)
    cams, grads = cam_maps(model, "resnet18", x), gradcam_maps(model, "resnet18", x)
    for name, maps in (("CAM", cams), ("Grad-CAM", grads)):
        print_hits(name, [hm.values for hm in maps], held, spec)
    r = [
        np.corrcoef(c.values.ravel(), g.values.ravel())[0, 1]
        for c, g in zip(cams, grads, strict=True)
    ]
    print(f"  Pearson r, CAM vs Grad-CAM: min {min(r):.4f}, mean {np.mean(r):.4f} (goal >= 0.99)")


def gradient_times_input(model, x: torch.Tensor, cell: int = 8) -> list[np.ndarray]:
    """The plain saliency reference: |d score / d input x input| summed over the colours,
    averaged over ``cell`` px squares (a pixel-level peak is noise), each map to [0, 1]."""
    x = x.detach().clone().requires_grad_(True)
    logits = model(x)
    score = logits[torch.arange(len(x)), logits.argmax(1)].sum()
    (grad,) = torch.autograd.grad(score, x)
    sal = torch.nn.functional.avg_pool2d((grad * x).sum(1, keepdim=True).abs(), cell)[:, 0]
    sal = sal / sal.flatten(1).amax(1).clamp(min=1e-12)[:, None, None]
    return list(sal.detach().numpy())


def right_place_gradcam_family(held_out: int, n: int = 96, epochs: int = 8) -> None:
    arch = "mobilenet_v3_small"
    print(f"{arch}: {cam_target(arch)}")
    t0 = time.perf_counter()
    model, spec = trained_on_patches(n, epochs, arch)
    held, x = held_out_images(held_out, spec)
    with torch.no_grad():
        right = (model(x).argmax(1) == torch.arange(held_out) % 2).sum().item()
    print(f"MobileNetV3-Small trained through on {n} patch images in "
          f"{time.perf_counter() - t0:.0f} s; {right} of {held_out} held-out images right")  # fmt: skip
    ours = [hm.values for hm in gradcam_maps(model, arch, x)]
    finer = [hm.values for hm in gradcam_maps(model, arch, x, layer="features.8")]
    print_hits("Grad-CAM (features, 4x4)", ours, held, spec)
    print_hits("reference: Grad-CAM features.8", finer, held, spec)
    print_hits("reference: gradient x input", gradient_times_input(model, x), held, spec)


def cost(repeats: int = 3) -> None:
    torch.manual_seed(0)
    for arch, fns in (("resnet50", (cam_maps, gradcam_maps)), ("vit_b_16", (gradcam_maps,))):
        model = build_model(arch, 1000).eval()
        torch.nn.init.normal_(get_head(model, arch).weight, std=0.01)
        x = torch.randn(1, 3, 224, 224)
        with torch.no_grad():
            model(x)
            t0 = time.perf_counter()
            for _ in range(repeats):
                model(x)
        forward = (time.perf_counter() - t0) / repeats * 1000
        for fn in fns:
            fn(model, arch, x)
            t0 = time.perf_counter()
            for _ in range(repeats):
                fn(model, arch, x)
            took = (time.perf_counter() - t0) / repeats * 1000
            print(f"  {arch:<9} {fn.__name__:<13} {took:6.0f} ms per image "
                  f"(forward alone {forward:.0f} ms: {took / forward:.2f}x)")  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--held-out", type=int, default=48)
    ap.add_argument("--only", choices=("resnet", "mobilenet", "cost"))
    args = ap.parse_args()
    print(
        f"threads: {torch.get_num_threads()}; load {Path('/proc/loadavg').read_text().split()[0]}"
    )
    if args.only in (None, "resnet"):
        right_place(args.held_out)
    if args.only in (None, "mobilenet"):
        right_place_gradcam_family(min(args.held_out, 32))
    if args.only in (None, "cost"):
        print("On demand, one image, CPU:")
        cost()
    return 0


if __name__ == "__main__":
    sys.exit(main())
