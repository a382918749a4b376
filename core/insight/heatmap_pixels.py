"""Laying a heat map on a photo's own pixels, and colouring it: numpy and Pillow only, so the
window draws maps kept from a run (on any engine, ONNX Runtime included) without torch.

:func:`to_image_pixels` carries a map on the network's input grid back through the inverse of
the model's preprocessing (the resize rule, the centre crop, a letterbox's bars) onto the
original image's pixels; pixels the network never saw are 0. :func:`heat_colours` and
:func:`overlay` give it its colours."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from ..models.transforms import TransformSpec


def crop_box(width: int, height: int, spec: TransformSpec) -> tuple[float, float, float, float]:
    """Where the network's input square lies on the original image, in its pixels:
    (left, top, right, bottom), possibly beyond the image (a letterbox's bars)."""
    from ..data.preprocessing import letterbox_geometry

    crop = spec.crop
    if spec.resize_mode == "letterbox":
        new_w, new_h, left, top = letterbox_geometry(width, height, spec.resize)
        sx, sy = width / new_w, height / new_h
        offset_x, offset_y = left, top
        resized_w = resized_h = spec.resize
    else:
        if spec.resize_mode == "exact":
            resized_w = resized_h = spec.resize
        elif width <= height:
            resized_w, resized_h = spec.resize, int(spec.resize * height / width)
        else:
            resized_w, resized_h = int(spec.resize * width / height), spec.resize
        sx, sy = width / resized_w, height / resized_h
        offset_x = offset_y = 0
    cx = int(round((resized_w - crop) / 2.0))
    cy = int(round((resized_h - crop) / 2.0))
    left = (cx - offset_x) * sx
    top = (cy - offset_y) * sy
    return left, top, left + crop * sx, top + crop * sy


def to_image_pixels(values: np.ndarray, spec: TransformSpec, width: int, height: int) -> np.ndarray:
    """A map on the input grid as (height, width) float32 on the original image's pixels
    (bilinear, the inverse of the preprocessing); 0 where the network saw nothing of it."""
    left, top, right, bottom = crop_box(width, height, spec)
    h, w = values.shape
    xs = (np.arange(width) + 0.5 - left) / (right - left) * w - 0.5
    ys = (np.arange(height) + 0.5 - top) / (bottom - top) * h - 0.5
    inside_x = (xs >= -0.5) & (xs <= w - 0.5)
    inside_y = (ys >= -0.5) & (ys <= h - 0.5)
    x0 = np.clip(np.floor(xs), 0, w - 1).astype(np.int64)
    y0 = np.clip(np.floor(ys), 0, h - 1).astype(np.int64)
    x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
    fx = np.clip(xs - x0, 0, 1)[None, :]
    fy = np.clip(ys - y0, 0, 1)[:, None]
    v = values.astype(np.float32)
    top_row = v[y0][:, x0] * (1 - fx) + v[y0][:, x1] * fx
    bottom_row = v[y1][:, x0] * (1 - fx) + v[y1][:, x1] * fx
    out = top_row * (1 - fy) + bottom_row * fy
    out *= inside_y[:, None] & inside_x[None, :]
    return out.astype(np.float32)


def overlay(img: Image.Image, values: np.ndarray, alpha: float = 0.5) -> Image.Image:
    """The image with the map laid over it in a blue-to-red colour scale (``values`` on the
    image's own pixels, as :func:`to_image_pixels` gives)."""
    colours = heat_colours(values).astype(np.float32)
    base = np.asarray(img.convert("RGB"), dtype=np.float32)
    mixed = base * (1 - alpha) + colours * alpha
    return Image.fromarray(mixed.round().astype(np.uint8))


def heat_colours(values: np.ndarray) -> np.ndarray:
    """The blue-to-red colour scale of a map, (h, w, 3) uint8 RGB: blue at 0, green in the
    middle, red from 0.75 (the app lays it over its own pictures at half opacity)."""
    v = np.clip(values, 0, 1).astype(np.float32)
    colours = np.stack(
        [np.clip(1.5 - np.abs(4 * v - 3), 0, 1),  # red peaks at 0.75..1
         np.clip(1.5 - np.abs(4 * v - 2), 0, 1),  # green in the middle
         np.clip(1.5 - np.abs(4 * v - 1), 0, 1)],  # blue at the low end
        axis=-1,
    )  # fmt: skip
    return (colours * 255).round().astype(np.uint8)


@dataclass(frozen=True, slots=True)
class Explanation:
    """One image's heat map on its own pixels: ``values`` (height, width) float32 in [0, 1]."""

    path: str
    values: np.ndarray | None
    class_name: str
    confidence: float
    method: str
    error: str | None = None
    image: Image.Image | None = None  # the decoded image (orientation applied), for overlays


def kept_explanation(prediction, image: Image.Image, spec: TransformSpec, class_names, index=None):
    """The Explanation of a prediction whose run kept its maps (core.runtime.kept), for class
    ``index`` (None: its label), on ``image``'s pixels (the decoded photo); None when that
    class's map was not kept (then it is computed on demand, core.insight.heatmaps)."""
    maps = prediction.maps
    if maps is None or not prediction.ok:
        return None
    if index is None:
        index = list(class_names).index(prediction.label)
    values = maps.for_class(index)
    if values is None:
        return None
    confidence = dict(prediction.topk).get(class_names[index], 0.0)
    full = to_image_pixels(values, spec, image.width, image.height)
    return Explanation(prediction.path, full, class_names[index], confidence, maps.method,
                       image=image)  # fmt: skip
