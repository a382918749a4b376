"""An independent re-implementation of bubbliiiing/classification-pytorch's prediction, to hold
Pigeonhole's to (no Pigeonhole code is used here).

Read from that repository (github.com/bubbliiiing/classification-pytorch): ``classification.py``
``Classification.detect_image`` and ``utils/utils.py`` (``cvtColor``, ``letterbox_image``,
``preprocess_input``) with ``utils/utils_aug.py`` (``resize``, ``center_crop``) at e6130a5 (its
last commit, 2022-11-06), and ``preprocess_input`` before 61ad145 (2022-11-01), which scaled
``x / 127.5 - 1`` where later code uses ImageNet mean/std. Its training saves
``torch.save(model.state_dict(), "logs/ep%03d-loss%.3f-val_loss%.3f.pth")`` (utils_fit.py) and
reads class names from ``model_data/cls_classes.txt``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image


def cvt_color(image: Image.Image) -> Image.Image:
    """``cvtColor``: keep a 3-channel image, convert anything else to RGB."""
    if len(np.shape(image)) == 3 and np.shape(image)[2] == 3:
        return image
    return image.convert("RGB")


def resize(img: Image.Image, size: int, interpolation=Image.BILINEAR) -> Image.Image:
    """``utils_aug.resize`` with an int size: the shorter side to ``size``, the other truncated."""
    w, h = img.size
    if (w <= h and w == size) or (h <= w and h == size):
        return img
    if w < h:
        return img.resize((size, int(size * h / w)), interpolation)
    return img.resize((int(size * w / h), size), interpolation)


def center_crop(img: Image.Image, output_size: tuple[int, int]) -> Image.Image:
    """``utils_aug.center_crop``: offsets rounded."""
    w, h = img.size
    th, tw = output_size
    i = int(round((h - th) / 2.0))
    j = int(round((w - tw) / 2.0))
    return img.crop((j, i, j + tw, i + th))


def letterbox_image(image: Image.Image, size: tuple[int, int], letterbox: bool) -> Image.Image:
    """``utils.letterbox_image``: a bicubic resize pasted on grey (letterbox), else the
    shorter side resized and centre-cropped."""
    w, h = size
    iw, ih = image.size
    if letterbox:
        scale = min(w / iw, h / ih)
        nw = int(iw * scale)
        nh = int(ih * scale)
        image = image.resize((nw, nh), Image.BICUBIC)
        new_image = Image.new("RGB", tuple(size), (128, 128, 128))
        new_image.paste(image, ((w - nw) // 2, (h - nh) // 2))
        return new_image
    new_image = resize(image, h) if h == w else image.resize((w, h))
    return center_crop(new_image, (h, w))


def preprocess_input(x: np.ndarray, meanstd: bool = False) -> np.ndarray:
    """``utils.preprocess_input``: x / 127.5 - 1 (before 2022-11-01), else ImageNet mean/std."""
    if meanstd:
        x /= 255
        x -= np.array([0.485, 0.456, 0.406])
        x /= np.array([0.229, 0.224, 0.225])
        return x
    x /= 127.5
    x -= 1.0
    return x


def model_input(
    path: Path,
    input_shape: tuple[int, int] = (224, 224),
    letterbox: bool = False,
    meanstd: bool = False,
) -> np.ndarray:
    """``Classification.detect_image`` up to the forward pass: the (1, 3, H, W) input."""
    image = cvt_color(Image.open(path))
    image_data = letterbox_image(image, [input_shape[1], input_shape[0]], letterbox)
    return np.transpose(
        np.expand_dims(preprocess_input(np.array(image_data, np.float32), meanstd), 0),
        (0, 3, 1, 2),
    )  # fmt: skip


def detect_images(model: torch.nn.Module, paths: list[Path], **how) -> np.ndarray:
    """``detect_image``'s class probabilities for each path (one forward pass for all of them,
    where the repository makes one per image: the same arithmetic, a lot faster)."""
    photos = torch.from_numpy(np.concatenate([model_input(p, **how) for p in paths])).float()
    with torch.no_grad():
        return torch.softmax(model(photos), dim=-1).cpu().numpy()
