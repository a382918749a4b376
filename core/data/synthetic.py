"""Synthetic images: classes learnable by colour and shape, photo-like images, class-folder
datasets. Used by `pigeonhole bench` (no folder given), the self-test, tests and benchmarks."""

from __future__ import annotations

import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

# class name -> base RGB colour; shapes differ too, so the classes are easy to learn
CLASS_COLOURS = {
    "red": (200, 40, 40),
    "green": (40, 170, 60),
    "blue": (40, 70, 200),
    "yellow": (220, 200, 40),
}


def class_image(label: str, seed: int, size: tuple[int, int] = (160, 120)) -> Image.Image:
    """An image of class ``label``: noisy background, a shape in the class colour."""
    rng = random.Random(f"{label}-{seed}")
    w, h = size
    bg = tuple(rng.randint(90, 160) for _ in range(3))
    img = Image.new("RGB", size, bg)
    draw = ImageDraw.Draw(img)
    base = CLASS_COLOURS.get(label, (rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 255)))
    colour = tuple(max(0, min(255, c + rng.randint(-25, 25))) for c in base)
    for _ in range(6):  # clutter
        x, y = rng.randint(0, w), rng.randint(0, h)
        r = rng.randint(3, 10)
        draw.ellipse(
            (x - r, y - r, x + r, y + r), fill=tuple(rng.randint(60, 200) for _ in range(3))
        )
    cx, cy = rng.randint(w // 4, 3 * w // 4), rng.randint(h // 4, 3 * h // 4)
    r = rng.randint(min(w, h) // 5, min(w, h) // 3)
    names = list(CLASS_COLOURS)
    shape = names.index(label) % 3 if label in names else rng.randint(0, 2)
    if shape == 0:
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=colour)
    elif shape == 1:
        draw.rectangle((cx - r, cy - r, cx + r, cy + r), fill=colour)
    else:
        draw.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=colour)
    return img


def photo_like(seed: int, size: tuple[int, int] = (500, 375)) -> Image.Image:
    """A photo-sized image with gradients, shapes and blur (compresses like a photo)."""
    rng = random.Random(seed)
    w, h = size
    img = Image.linear_gradient("L").resize(size).convert("RGB")
    tint = Image.new("RGB", size, tuple(rng.randint(0, 255) for _ in range(3)))
    img = Image.blend(img, tint, 0.6)
    draw = ImageDraw.Draw(img)
    for _ in range(25):
        x0, y0 = rng.randint(-50, w), rng.randint(-50, h)
        x1, y1 = x0 + rng.randint(10, 200), y0 + rng.randint(10, 200)
        fill = tuple(rng.randint(0, 255) for _ in range(3))
        if rng.random() < 0.5:
            draw.ellipse((x0, y0, x1, y1), fill=fill)
        else:
            draw.rectangle((x0, y0, x1, y1), fill=fill)
    return img.filter(ImageFilter.GaussianBlur(1.5))


def make_class_folders(
    root: Path,
    per_class: int | dict[str, int] = 12,
    classes: tuple[str, ...] = ("red", "blue"),
    size: tuple[int, int] = (160, 120),
    fmt: str = "JPEG",
    seed: int = 0,
) -> Path:
    """``root/<class>/<class>_NNN.jpg``; returns root."""
    root = Path(root)
    ext = {"JPEG": ".jpg", "PNG": ".png"}[fmt]
    for label in classes:
        n = per_class[label] if isinstance(per_class, dict) else per_class
        folder = root / label
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            class_image(label, seed * 100_000 + i, size).save(folder / f"{label}_{i:03d}{ext}", fmt)
    return root


def make_train_val(
    root: Path, train: int = 12, val: int = 5, classes=("red", "blue"), val_name="val"
):
    make_class_folders(Path(root) / "train", train, classes, seed=1)
    make_class_folders(Path(root) / val_name, val, classes, seed=2)
    return Path(root)


def make_photo_folder(
    root: Path, n: int, size: tuple[int, int] = (500, 375), seed: int = 0
) -> Path:
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        photo_like(seed + i, size).save(root / f"img_{i:05d}.jpg", "JPEG", quality=88)
    return root
