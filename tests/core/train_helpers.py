"""Helpers for the training tests: a small random-weight base network and learnable data.

ImageNet weights cannot be downloaded here; random conv features of colour images are still
linearly separable by colour, and a small input size (64 px) keeps extraction cheap.
"""

from __future__ import annotations

from pathlib import Path

import torch

from pigeonhole.core.data.synthetic import make_class_folders
from pigeonhole.core.models.archs import TransformSpec, build_model

SMALL = TransformSpec(resize=72, crop=64)


def small_base(arch: str = "resnet18", seed: int = 0, transform: TransformSpec = SMALL):
    """A LoadedModel with random weights (seeded) and a small input size."""
    from pigeonhole.core.models.checkpoints import LoadedModel

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build_model(arch, 1000)
    return LoadedModel(
        model=model,
        arch=arch,
        class_names=[f"class {i}" for i in range(1000)],
        transform=transform,
        source=f"random weights (seed {seed})",
        notes=[],
        metadata={},
    )


def save_base_checkpoint(path: Path, arch: str = "resnet18", seed: int = 0) -> Path:
    """A Pigeonhole checkpoint of a random-weight network (small transform) to train from."""
    from pigeonhole.core.models.checkpoints import save_checkpoint

    base = small_base(arch, seed)
    save_checkpoint(path, base.model, arch, base.class_names, base.transform)
    return path


def colour_folders(root: Path, per_class: int = 10, classes=("red", "green", "blue")) -> Path:
    return make_class_folders(root, per_class, classes, size=(96, 72))


DECISIVE_CLASSES = ("red", "green", "blue")


def decisive_model(folder: Path):
    """A LoadedModel trained the way `pigeonhole train` trains (frozen random backbone, new
    head) on learnable colour photos of 320x240: its outputs are decisive, so label agreement
    between two pipelines means something."""
    from pigeonhole.core.tasks import run_to_end
    from pigeonhole.core.training.fine_tune import TrainConfig, train_classifier

    data = make_class_folders(folder, 12, DECISIVE_CLASSES, size=(320, 240))
    result = run_to_end(
        train_classifier(data, base=small_base(), config=TrainConfig(epochs=20, patience=0))
    )
    base = small_base()
    base.model, base.class_names = result.model, list(result.class_names)
    return base


FIELD_COLOURS = {"red": (200, 40, 40), "green": (40, 170, 60), "blue": (40, 70, 200)}
#: Photo shapes that exercise the resize arithmetic: landscape, portrait, wide, odd sizes.
FIELD_SIZES = ((320, 240), (240, 320), (400, 200), (333, 201))


def colour_field(label: str, seed: int, size: tuple[int, int]):
    """A photo of class ``label``: the class colour (jittered) behind random clutter."""
    import random

    from PIL import Image, ImageDraw

    rng = random.Random(f"{label}-{seed}")
    w, h = size
    base = tuple(max(0, min(255, c + rng.randint(-40, 40))) for c in FIELD_COLOURS[label])
    img = Image.new("RGB", size, base)
    draw = ImageDraw.Draw(img)
    for _ in range(10):
        x, y, r = rng.randint(0, w), rng.randint(0, h), rng.randint(5, min(w, h) // 5)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=tuple(rng.randint(0, 255) for _ in range(3)))  # fmt: skip
    return img


def colour_fields(root: Path, per_class: int, seed: int = 0) -> Path:
    """``root/<class>/<class>_NNN.jpg`` colour fields in every shape of FIELD_SIZES."""
    for label in FIELD_COLOURS:
        (root / label).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            size = FIELD_SIZES[i % len(FIELD_SIZES)]
            img = colour_field(label, seed * 1000 + i, size)
            img.save(root / label / f"{label}_{i:03d}.jpg", quality=92)
    return root


def scaled_random_backbone(arch: str, spec: TransformSpec, images: list[Path]):
    """A random ``arch`` whose BatchNorm layers scale activations to unit size on ``images``
    (preprocessed with ``spec``; their means are left at 0): untouched, a random MobileNetV2
    fades to features near 1e-10, too small to learn from; centred, colour is lost."""
    from pigeonhole.core.data.images import load_image
    from pigeonhole.core.data.preprocessing import preprocess

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = build_model(arch, 1000)
    batch = torch.stack([preprocess(load_image(p), spec) for p in images])
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # the batch's own statistics
    model.train()
    with torch.no_grad():
        model(batch)
    for m in norms:
        m.running_mean.zero_()
    return model.eval()


def decisive_under(arch: str, spec: TransformSpec, data: Path):
    """A LoadedModel of ``arch`` trained as `pigeonhole train` trains (frozen backbone, new
    head) on ``data`` under preprocessing ``spec``: its outputs are decisive on such images."""
    from pigeonhole.core.models.checkpoints import LoadedModel
    from pigeonhole.core.tasks import run_to_end
    from pigeonhole.core.training.fine_tune import TrainConfig, train_classifier

    images = sorted(data.rglob("*.jpg"))
    model = scaled_random_backbone(arch, spec, images[::2])
    base = LoadedModel(model, arch, [str(i) for i in range(1000)], spec, "random weights")
    config = TrainConfig(epochs=30, patience=0, val_split=0, use_cache=False)
    result = run_to_end(train_classifier(data, base=base, config=config))
    base.model, base.class_names = result.model, list(result.class_names)
    return base


TINY = TransformSpec(resize=36, crop=32)


def whole_network_trained(folder: Path, epochs: int = 4):
    """A ResNet-18 on 32 px crops with every layer trained on learnable colour photos: unlike
    a random backbone, its activations are what int8 is made for, so int8-vs-fp32 label
    agreement on it is meaningful (a random backbone's activations grow layer after layer)."""
    from pigeonhole.core.data.images import load_image
    from pigeonhole.core.data.listing import iter_image_files
    from pigeonhole.core.data.preprocessing import crop_uint8, normalize_batch

    data = make_class_folders(folder, 12, DECISIVE_CLASSES, size=(160, 120))
    files = sorted(iter_image_files([data]))
    x = normalize_batch(torch.stack([crop_uint8(load_image(f), TINY) for f in files]), TINY)
    y = torch.tensor([DECISIVE_CLASSES.index(f.parent.name) for f in files])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = build_model("resnet18", len(DECISIVE_CLASSES))
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        model.train()
        for _ in range(epochs):
            for idx in torch.randperm(len(x)).split(12):
                opt.zero_grad()
                torch.nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
                opt.step()
        for m in model.modules():  # BatchNorm statistics of the finished network, all data
            if isinstance(m, torch.nn.BatchNorm2d):
                m.reset_running_stats()
                m.momentum = None
        with torch.no_grad():
            model(x)
    base = small_base(transform=TINY)
    base.model, base.class_names = model.eval(), list(DECISIVE_CLASSES)
    return base
