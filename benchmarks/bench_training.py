"""Training benchmark: the classic fixed-feature-extractor recipe against Pigeonhole's.

Classic (the PyTorch transfer-learning tutorial, "ConvNet as fixed feature extractor"): the
backbone is frozen, but every epoch runs it forward over every training image (random resized
crop + flip) and every validation image; SGD lr 0.001 momentum 0.9, StepLR(7, 0.1), 25 epochs,
batch 4, the best validation accuracy kept.

Pigeonhole: run the backbone once per image (plus N augmented views), cache the features, train
the head on them (core.training.fine_tune.train_classifier, default options), best validation loss kept.
The backbone runs on the CPU engine `auto` picks (ONNX Runtime); a first row runs it on torch,
to show what the engine brings.

Both start from the same ResNet-18 weights: ImageNet weights with --pretrained (they must be
cached or downloadable), else the same seeded random weights (what this offline machine has).
The data is generated, 300x225 JPEGs split train/ and val/ like the tutorial's ants-and-bees
set (240 + 160): core.data.synthetic.class_image red vs blue (default), or ``--task shapes``
(circles vs squares with overlapping hues, which random weights find much harder).

    python benchmarks/bench_training.py            # ~400 images, the full classic run (minutes)
    python benchmarks/bench_training.py --quick    # ~100 images, 5 classic epochs
    python benchmarks/bench_training.py --data DIR --pretrained   # your own train/ val/ folder

Measured here (2-core shared machine, random weights, 240 + 160 images, default options, load
~1; an earlier run at load 3-8 took the classic recipe 1548.7 s against 25.4 s):

    recipe                                     wall s   CPU s  val acc  wall x  CPU x
    classic (25 epochs)                         263.5   520.0  100.00%       -      -
    pigeonhole, torch engine (features once)      8.1    15.0  100.00%   32.4x  34.6x
    pigeonhole (features once, head on cache)     7.6    14.0  100.00%   34.7x  37.1x
    pigeonhole + 2 augmented views               15.4    30.0  100.00%   17.1x  17.3x
    pigeonhole again (features from the cache)    0.3     0.4  100.00%  894.1x

Wall times move with the machine's load; CPU time is the steadier ratio.
"""

from __future__ import annotations

import argparse
import colorsys
import copy
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from PIL import Image, ImageDraw, ImageFilter  # noqa: E402
from torch import nn  # noqa: E402


def shape_image(label: int, seed: int, size=(300, 225)) -> Image.Image:
    """Class 0: a warm-hued circle, class 1: a cool-hued square, over a random background with
    clutter. The hue ranges overlap (learnable, not trivially: some images are ambiguous)."""
    rng = random.Random(f"{label}:{seed}")
    w, h = size
    img = Image.new("RGB", size, tuple(rng.randint(60, 200) for _ in range(3)))
    draw = ImageDraw.Draw(img)
    for _ in range(10):
        x, y, r = rng.randint(0, w), rng.randint(0, h), rng.randint(4, 18)
        fill = tuple(rng.randint(0, 255) for _ in range(3))
        if rng.random() < 0.5:
            draw.ellipse((x - r, y - r, x + r, y + r), fill=fill)
        else:
            draw.rectangle((x - r, y - r, x + r, y + r), fill=fill)
    r = rng.randint(h // 6, h // 3)
    cx, cy = rng.randint(r, w - r), rng.randint(r, h - r)
    hue = rng.uniform(0.0, 0.6) if label == 0 else rng.uniform(0.4, 1.0)
    rgb = colorsys.hsv_to_rgb(hue, rng.uniform(0.4, 1.0), rng.uniform(0.5, 1.0))
    colour = tuple(int(255 * c) for c in rgb)
    if label == 0:
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=colour)
    else:
        draw.rectangle((cx - r, cy - r, cx + r, cy + r), fill=colour)
    return img.filter(ImageFilter.GaussianBlur(0.8))


def make_dataset(root: Path, train_per_class: int, val_per_class: int, task: str) -> Path:
    """``colours``: core.data.synthetic.class_image red vs blue (shape and colour differ);
    ``shapes``: :func:`shape_image` (overlapping hues, harder for random weights)."""
    from pigeonhole.core.data.synthetic import class_image

    names = ("red", "blue") if task == "colours" else ("circles", "squares")
    for split, n, offset in (("train", train_per_class, 0), ("val", val_per_class, 10_000)):
        for label, name in enumerate(names):
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                if task == "colours":
                    img = class_image(name, offset + i, (300, 225))
                else:
                    img = shape_image(label, offset + i)
                img.save(folder / f"{name}_{i:04d}.jpg", quality=90)
    return root


def base_model(pretrained: bool, seed: int):
    """The same starting network for both recipes (a core.checkpoints.LoadedModel)."""
    from pigeonhole.core.models.archs import build_model, get_arch
    from pigeonhole.core.models.checkpoints import LoadedModel, load_pretrained

    if pretrained:
        return load_pretrained("resnet18")
    torch.manual_seed(seed)
    return LoadedModel(
        model=build_model("resnet18", 1000).eval(),
        arch="resnet18",
        class_names=[str(i) for i in range(1000)],
        transform=get_arch("resnet18").transform,
        source=f"random weights (seed {seed})",
        notes=[],
        metadata={},
    )


def classic(data: Path, model: nn.Module, epochs: int, workers: int, time_limit: float = 0) -> dict:
    """The tutorial's train_model() for the fixed-feature-extractor case, verbatim in spirit."""
    from torchvision import datasets, transforms

    norm = transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    tfs = {
        "train": transforms.Compose(
            [
                transforms.RandomResizedCrop(224),
                transforms.RandomHorizontalFlip(),
                transforms.ToTensor(),
                norm,
            ]
        ),
        "val": transforms.Compose(
            [transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor(), norm]
        ),
    }
    sets = {x: datasets.ImageFolder(data / x, tfs[x]) for x in ("train", "val")}
    loaders = {
        x: torch.utils.data.DataLoader(sets[x], batch_size=4, shuffle=True, num_workers=workers)
        for x in ("train", "val")
    }
    for p in model.parameters():
        p.requires_grad = False
    model.fc = nn.Linear(model.fc.in_features, len(sets["train"].classes))
    criterion = nn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.fc.parameters(), lr=0.001, momentum=0.9)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=7, gamma=0.1)
    best_acc, best_state, curve = 0.0, copy.deepcopy(model.state_dict()), []
    start = time.perf_counter()
    for epoch in range(epochs):
        for phase in ("train", "val"):
            model.train() if phase == "train" else model.eval()
            correct, seen = 0, 0
            for inputs, labels in loaders[phase]:
                opt.zero_grad()
                with torch.set_grad_enabled(phase == "train"):
                    outputs = model(inputs)
                    loss = criterion(outputs, labels)
                    if phase == "train":
                        loss.backward()
                        opt.step()
                correct += int((outputs.argmax(1) == labels).sum())
                seen += labels.numel()
            if phase == "train":
                sched.step()
            acc = correct / seen
            if phase == "val":
                curve.append(acc)
                if acc > best_acc:
                    best_acc, best_state = acc, copy.deepcopy(model.state_dict())
        print(
            f"  classic epoch {epoch + 1}/{epochs}: val acc {curve[-1]:.2%} ({time.perf_counter() - start:.0f} s)",
            flush=True,
        )
        if time_limit and time.perf_counter() - start > time_limit and epoch + 1 < epochs:
            print(f"  time limit reached after {epoch + 1} epochs", flush=True)
            break
    model.load_state_dict(best_state)
    return {
        "seconds": time.perf_counter() - start,
        "val_acc": best_acc,
        "curve": curve,
        "epochs_run": len(curve),
    }


def _cpu_since(t0) -> float:
    """CPU seconds (user + system, this process and its finished children) since ``t0``."""
    t1 = os.times()
    return sum(t1[:4]) - sum(t0[:4])


def ours(data: Path, base, augment: int, engine: str = "auto") -> dict:
    from pigeonhole.core.runtime.options import RunOptions
    from pigeonhole.core.tasks import run_to_end
    from pigeonhole.core.training.fine_tune import TrainConfig, train_classifier

    t0 = os.times()
    start = time.perf_counter()
    config = TrainConfig(augment=augment, run=RunOptions(engine=engine))
    r = run_to_end(train_classifier(data, base=base, config=config))
    return {
        "seconds": time.perf_counter() - start,
        "cpu_s": _cpu_since(t0),
        "val_acc": r.val_accuracy,
        "best_epoch": r.best_epoch,
        "epochs_run": len(r.history),
        "extraction_s": r.extraction_s,
        "training_s": r.training_s,
        "ms_per_image": r.ms_per_image,
        "features_extracted": r.features_extracted,
        "features_cached": r.features_cached,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="~100 images and 5 classic epochs")
    ap.add_argument("--data", type=Path, help="a folder with train/ and val/ class folders")
    ap.add_argument("--pretrained", action="store_true", help="start from ImageNet weights")
    ap.add_argument("--epochs", type=int, help="classic epochs (default 25, --quick 5)")
    ap.add_argument("--augment", type=int, default=2, help="augmented views for the second run")
    ap.add_argument(
        "--workers",
        type=int,
        default=min(4, os.cpu_count() or 1),
        help="classic DataLoader workers",
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, help="also write the figures here")
    ap.add_argument("--task", choices=("colours", "shapes"), default="colours")
    ap.add_argument(
        "--time-limit",
        type=float,
        default=0,
        help="stop the classic run after this many seconds and project its full time",
    )
    ap.add_argument("--skip-classic", action="store_true", help="time only Pigeonhole's recipe")
    args = ap.parse_args(argv)
    epochs = args.epochs or (5 if args.quick else 25)

    from pigeonhole.core.devices import cpu_name

    tmp = tempfile.TemporaryDirectory(prefix="pigeonhole-bench-")
    sizes = (30, 20) if args.quick else (120, 80)
    data = args.data or make_dataset(Path(tmp.name) / "data", *sizes, args.task)
    n_train = sum(1 for _ in (data / "train").rglob("*.jpg"))
    n_val = sum(1 for _ in (data / "val").rglob("*.jpg"))
    weights = (
        "ImageNet weights" if args.pretrained else "RANDOM weights (no ImageNet download here)"
    )
    print(
        f"ResNet-18, {weights}; {n_train} training + {n_val} validation images; "
        f"{cpu_name()}, {torch.get_num_threads()} threads"
    )

    # Pigeonhole first (each timed run with a cold feature cache), then the classic recipe.
    print("pigeonhole, no augmentation, torch engine...", flush=True)
    os.environ["PIGEONHOLE_CACHE_DIR"] = str(Path(tmp.name) / "cache-0")
    o0 = ours(data, base_model(args.pretrained, args.seed), 0, engine="torch")
    print("pigeonhole, no augmentation...", flush=True)
    os.environ["PIGEONHOLE_CACHE_DIR"] = str(Path(tmp.name) / "cache-1")
    o1 = ours(data, base_model(args.pretrained, args.seed), 0)
    print(f"pigeonhole, {args.augment} augmented views...", flush=True)
    os.environ["PIGEONHOLE_CACHE_DIR"] = str(Path(tmp.name) / "cache-2")
    o2 = ours(data, base_model(args.pretrained, args.seed), args.augment)
    print("pigeonhole again, features cached...", flush=True)
    o3 = ours(data, base_model(args.pretrained, args.seed), args.augment)
    for name, r in (("no augmentation", o1), (f"{args.augment} views", o2), ("cached", o3)):
        print(f"  {name}: {r['seconds']:.1f} s, val acc {r['val_acc']:.2%}", flush=True)

    print("classic fixed-feature-extractor recipe...", flush=True)
    t0 = os.times()
    if args.skip_classic:
        c = {"seconds": float("nan"), "cpu_s": float("nan"), "val_acc": float("nan"), "curve": []}
        c["epochs_run"] = epochs
    else:
        model = base_model(args.pretrained, args.seed).model
        c = classic(data, model, epochs, args.workers, args.time_limit)
        c["cpu_s"] = _cpu_since(t0)
    measured = c["epochs_run"]
    if measured < epochs:  # a busy machine: project the full run from the measured epochs
        c["measured_seconds"], c["measured_cpu_s"] = c["seconds"], c["cpu_s"]
        c["seconds"] *= epochs / measured
        c["cpu_s"] *= epochs / measured
        c["projected"] = True

    projected = f", PROJECTED from {measured}" if measured < epochs else ""
    rows = [
        (f"classic ({epochs} epochs{projected})", c, None),
        ("pigeonhole, torch engine (features once)", o0, c["seconds"] / o0["seconds"]),
        ("pigeonhole (features once, head on cache)", o1, c["seconds"] / o1["seconds"]),
        (f"pigeonhole + {args.augment} augmented views", o2, c["seconds"] / o2["seconds"]),
        ("pigeonhole again (features from the cache)", o3, c["seconds"] / o3["seconds"]),
    ]
    print()
    print(f"{'recipe':<50} {'wall s':>7} {'CPU s':>7} {'val acc':>8} {'wall x':>7} {'CPU x':>6}")
    for name, r, ratio in rows:
        sp = f"{ratio:6.1f}x" if ratio else "      -"
        cpu = f"{c['cpu_s'] / r['cpu_s']:5.1f}x" if ratio else "     -"
        print(f"{name:<50} {r['seconds']:7.1f} {r['cpu_s']:7.1f} {r['val_acc']:8.2%} {sp} {cpu}")
    for name, r in (("torch engine", o0), ("no augmentation", o1), (f"{args.augment} views", o2)):
        print(
            f"  pigeonhole {name}: extraction {r['extraction_s']:.1f} s ({r['ms_per_image']:.1f} ms/image), "
            f"head {r['training_s']:.2f} s for {r['epochs_run']} epochs (best {r['best_epoch']})"
        )
    for name, r in (("no augmentation", o1), (f"{args.augment} views", o2)):
        delta = 100 * (r["val_acc"] - c["val_acc"])
        print(f"accuracy difference, pigeonhole {name} - classic: {delta:+.1f} points")
    if measured < epochs:
        print(
            f"note: the classic run was stopped after {measured} of {epochs} epochs (--time-limit); "
            f"its time is projected, its accuracy is the best of the epochs run."
        )
    if not args.pretrained:
        print(
            "note: random weights stand in for ImageNet ones here; rerun with --pretrained where "
            "the weights can be downloaded for the real-world figure."
        )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "classic": c,
                    "ours_torch_engine": o0,
                    "ours": o1,
                    "ours_augmented": o2,
                    "ours_cached": o3,
                    "train_images": n_train,
                    "val_images": n_val,
                    "pretrained": args.pretrained,
                    "epochs": epochs,
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
