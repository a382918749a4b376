"""A model's preprocessing, exactly like torchvision's, and thumbnails, from a decoded image
(decoding is core.data.images').

* :func:`crop_array` applies a model's resize and crop (core.models.transforms) in Pillow, pixel
  for pixel as torchvision's eval transform does; :func:`normalize_array` scales a batch in numpy.
  Neither needs torch: the ONNX Runtime path never imports it. :func:`crop_uint8`,
  :func:`normalize_batch` and :func:`preprocess` are the same as torch tensors (torch imported
  when they are called).
* :func:`make_thumbnail`: the grid's picture, from the image the run already decoded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from ..models.transforms import TransformSpec

if TYPE_CHECKING:
    import torch


#: Interpolation names (a TransformSpec's) -> Pillow's resampling filters, as torchvision maps
#: its modes for Pillow images (nearest-exact is Pillow's nearest).
INTERPOLATIONS = {
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "nearest": Image.Resampling.NEAREST,
    "nearest-exact": Image.Resampling.NEAREST,
    "lanczos": Image.Resampling.LANCZOS,
    "box": Image.Resampling.BOX,
    "hamming": Image.Resampling.HAMMING,
}


def letterbox_geometry(width: int, height: int, canvas: int) -> tuple[int, int, int, int]:
    """(new width, new height, left, top) of an image fitted inside a square canvas, aspect
    kept, centred: the arithmetic of classification-pytorch's ``letterbox_image`` (sizes
    truncated, offsets floored), never below one pixel."""
    scale = min(canvas / width, canvas / height)
    new_w, new_h = max(1, int(width * scale)), max(1, int(height * scale))
    return new_w, new_h, (canvas - new_w) // 2, (canvas - new_h) // 2


def _resized(img: Image.Image, width: int, height: int, interpolation: str) -> Image.Image:
    """``img`` at width x height as torchvision's ``resize`` makes it from a Pillow image (the
    image itself when the size is already right; Pillow antialiases bilinear and bicubic)."""
    if img.size == (width, height):
        return img
    return img.resize((width, height), INTERPOLATIONS.get(interpolation, Image.Resampling.BILINEAR))


def letterbox(img: Image.Image, spec: TransformSpec) -> Image.Image:
    """``img`` resized to fit a ``spec.resize`` square (``spec.interpolation``) and pasted in
    the middle of a canvas of ``spec.fill``."""
    new_w, new_h, left, top = letterbox_geometry(img.width, img.height, spec.resize)
    small = _resized(img, new_w, new_h, spec.interpolation)
    canvas = Image.new("RGB", (spec.resize, spec.resize), tuple(spec.fill))
    canvas.paste(small, (left, top))
    return canvas


def resize_for(img: Image.Image, spec: TransformSpec) -> Image.Image:
    """``img`` after the spec's resize rule (before the centre crop), in Pillow: torchvision's
    ``Resize`` arithmetic (the shorter side to ``resize``, the longer one truncated)."""
    if spec.resize_mode == "letterbox":
        return letterbox(img, spec)
    if spec.resize_mode == "exact":
        return _resized(img, spec.resize, spec.resize, spec.interpolation)
    w, h = img.size
    short, long = (w, h) if w <= h else (h, w)
    new_short, new_long = spec.resize, int(spec.resize * long / short)
    new_w, new_h = (new_short, new_long) if w <= h else (new_long, new_short)
    return _resized(img, new_w, new_h, spec.interpolation)


def center_crop(img: Image.Image, size: int) -> Image.Image:
    """The centre ``size`` x ``size`` of ``img``, as torchvision's ``CenterCrop`` takes it
    (offsets rounded half to even; an image smaller than the crop padded with black)."""
    w, h = img.size
    if size > w or size > h:
        padded = Image.new(img.mode, (max(w, size), max(h, size)))
        padded.paste(img, ((size - w) // 2 if size > w else 0, (size - h) // 2 if size > h else 0))
        img, (w, h) = padded, padded.size
        if (w, h) == (size, size):
            return img
    top, left = int(round((h - size) / 2.0)), int(round((w - size) / 2.0))
    return img.crop((left, top, left + size, top + size))


def crop_array(img: Image.Image, spec: TransformSpec) -> np.ndarray:
    """Resize (the spec's rule) + centre crop in Pillow, as torchvision does: (3, crop, crop)
    uint8, RGB (a BGR model's channels are swapped by :func:`normalize_array`).

    The pipeline ships these small uint8 crops between threads (4x less memory than float) and
    normalises a whole batch at once; same arithmetic, same bits, with or without torch."""
    img = center_crop(resize_for(img, spec), spec.crop)
    if img.mode != "RGB":
        img = img.convert("RGB")
    return np.asarray(img, dtype=np.uint8).transpose(2, 0, 1).copy()  # C order, writable


def normalize_array(batch: np.ndarray, spec: TransformSpec) -> np.ndarray:
    """uint8 (..., 3, H, W) RGB -> float32 model input, in numpy: the same float32 arithmetic
    as :func:`normalize_batch` (channels in the spec's order, ``(x / 255 - mean) / std``)."""
    if spec.channels == "BGR":
        batch = batch[..., ::-1, :, :]
    x = batch.astype(np.float32)
    x /= np.float32(255)
    x -= np.asarray(spec.mean, dtype=np.float32).reshape(-1, 1, 1)
    x /= np.asarray(spec.std, dtype=np.float32).reshape(-1, 1, 1)
    return x


def crop_uint8(img: Image.Image, spec: TransformSpec) -> torch.Tensor:
    """:func:`crop_array` as a torch tensor (the torch engines' and training's crops)."""
    import torch

    return torch.from_numpy(crop_array(img, spec))


def normalize_batch(batch: torch.Tensor, spec: TransformSpec) -> torch.Tensor:
    """uint8 (..., 3, H, W) RGB tensor -> float32 model input on its device: channels in the
    spec's order, then ``(x / 255 - mean) / std``; for RGB exactly ToTensor() then Normalize()."""
    import torch

    if spec.channels == "BGR":
        batch = batch.flip(-3)
    x = batch.to(torch.float32).div_(255)
    # The constants are made on the batch's device: a CPU tensor meeting a CUDA batch fails.
    mean = torch.tensor(spec.mean, dtype=torch.float32, device=x.device).view(-1, 1, 1)
    std = torch.tensor(spec.std, dtype=torch.float32, device=x.device).view(-1, 1, 1)
    return x.sub_(mean).div_(std)


def preprocess(img: Image.Image, spec: TransformSpec) -> torch.Tensor:
    """(3, crop, crop) float32, the model's input; with the shorter-side rule bit-identical to
    torchvision's ``Compose([Resize(resize, interpolation, antialias=True), CenterCrop(crop),
    ToTensor(), Normalize(mean, std)])``."""
    return normalize_batch(crop_uint8(img, spec), spec)


@dataclass(frozen=True, slots=True)
class Thumbnail:
    """RGB888 pixels, rows packed with no padding (``QImage(data, w, h, 3*w, Format_RGB888)``)."""

    width: int
    height: int
    data: bytes


def make_thumbnail(img: Image.Image, max_side: int = 160) -> Thumbnail:
    """A small copy of an already decoded RGB image, longest side ``max_side``."""
    w, h = img.size
    scale = min(1.0, max_side / max(w, h, 1))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = (
        img if size == img.size else img.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    )
    if small.mode != "RGB":
        small = small.convert("RGB")
    return Thumbnail(small.width, small.height, small.tobytes())
