"""JPEG decoding on the device: file bytes are read on threads, then a whole batch is decoded
with ``torchvision.io.decode_jpeg(list, device=...)`` (nvJPEG on CUDA), turned upright by its EXIF
orientation, resized (antialiased, the model's resize rule and interpolation, letterbox included)
and centre-cropped there.

Pillow decoding on the CPU tops out near 950 images/s on a 16-core machine (GIL-bound); nvJPEG
did 5,530 (measured on an H100, issue 10). Everything here runs on the CPU too (the device is
only an argument), which is how the tests check it. Files that are not plain JPEGs (PNG, CMYK,
broken...) and any file whose device decode fails go through Pillow in the same run."""

from __future__ import annotations

import io
import logging
import time
import warnings
from dataclasses import dataclass

import torch
from PIL import Image, UnidentifiedImageError
from torchvision.io import ImageReadMode, decode_jpeg
from torchvision.transforms import InterpolationMode
from torchvision.transforms.v2 import functional as F

from ..data.images import MAX_PIXELS
from ..data.preprocessing import Thumbnail, letterbox_geometry
from ..errors import first_line
from ..models.transforms import TransformSpec

log = logging.getLogger(__name__)

#: Interpolation names (a TransformSpec's) -> torchvision's modes for tensors on the device.
INTERPOLATIONS = {
    "bilinear": InterpolationMode.BILINEAR,
    "bicubic": InterpolationMode.BICUBIC,
    "nearest": InterpolationMode.NEAREST,
    "nearest-exact": InterpolationMode.NEAREST_EXACT,
    "lanczos": InterpolationMode.LANCZOS,
    "box": InterpolationMode.BOX,
    "hamming": InterpolationMode.HAMMING,
}
_EXIF_ORIENTATION = 0x0112
_JPEG_SOI = b"\xff\xd8\xff"


@dataclass(frozen=True, slots=True)
class EncodedJpeg:
    """A JPEG's bytes, read on a thread and waiting to be decoded on the device."""

    data: torch.Tensor  # uint8, 1-D, in (pinnable) CPU memory
    orientation: int  # EXIF orientation, 1 = upright
    read_ms: float


def read_jpeg(path: str) -> EncodedJpeg | None:
    """The file's bytes when the device can decode it (a baseline/progressive RGB or grey
    JPEG), else None (Pillow decodes it). Raises OSError when the file cannot be read."""
    t0 = time.perf_counter()
    with open(path, "rb") as fh:
        data = fh.read()
    if not data.startswith(_JPEG_SOI):
        return None
    try:
        with Image.open(io.BytesIO(data)) as img:  # headers only: cheap
            if img.format != "JPEG" or img.mode not in ("RGB", "L"):
                return None  # CMYK, YCCK...: Pillow converts these properly
            if img.size[0] * img.size[1] > MAX_PIXELS:
                return None  # Pillow's path refuses it with the reason, before any decoding
            orientation = int(img.getexif().get(_EXIF_ORIENTATION, 1) or 1)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return None  # let Pillow produce the precise error for this file
    tensor = torch.frombuffer(bytearray(data), dtype=torch.uint8)
    return EncodedJpeg(tensor, orientation if 1 <= orientation <= 8 else 1, _ms(t0))


def upright(img: torch.Tensor, orientation: int) -> torch.Tensor:
    """(C, H, W) turned as EXIF ``orientation`` says (as PIL.ImageOps.exif_transpose does)."""
    if orientation == 2:
        return img.flip(-1)
    if orientation == 3:
        return img.flip(-1).flip(-2)
    if orientation == 4:
        return img.flip(-2)
    if orientation == 5:
        return img.transpose(-1, -2)
    if orientation == 6:
        return torch.rot90(img, -1, dims=(-2, -1))
    if orientation == 7:
        return img.transpose(-1, -2).flip(-1).flip(-2)
    if orientation == 8:
        return torch.rot90(img, 1, dims=(-2, -1))
    return img


def crop_on_device(img: torch.Tensor, spec: TransformSpec) -> torch.Tensor:
    """The spec's resize rule (antialiased: shorter side, exact size, or letterbox onto a
    canvas of the fill colour) and centre crop, like :func:`core.data.preprocessing.crop_uint8` does in
    Pillow, on ``img``'s device; uint8 (3, crop, crop)."""
    interp = INTERPOLATIONS.get(spec.interpolation, InterpolationMode.BILINEAR)
    if spec.resize_mode == "letterbox":
        img = letterbox_on_device(img, spec, interp)
    else:
        size = [spec.resize, spec.resize] if spec.resize_mode == "exact" else [spec.resize]
        img = F.resize(img, size, interpolation=interp, antialias=True)
    return F.center_crop(img, [spec.crop, spec.crop])


def letterbox_on_device(
    img: torch.Tensor, spec: TransformSpec, interp: InterpolationMode
) -> torch.Tensor:
    """(3, H, W) fitted inside a ``spec.resize`` square canvas of ``spec.fill`` (the canvas
    made on the image's device), with core.data.images' letterbox geometry."""
    height, width = img.shape[-2:]
    new_w, new_h, left, top = letterbox_geometry(int(width), int(height), spec.resize)
    small = F.resize(img, [new_h, new_w], interpolation=interp, antialias=True)
    fill = torch.tensor(spec.fill, dtype=img.dtype, device=img.device).view(-1, 1, 1)
    canvas = fill.expand(img.shape[0], spec.resize, spec.resize).clone()
    canvas[:, top : top + new_h, left : left + new_w] = small
    return canvas


def thumbnail_on_device(img: torch.Tensor, max_side: int) -> Thumbnail:
    """A small RGB888 copy (longest side ``max_side``), the only pixels that leave the GPU."""
    h, w = img.shape[-2:]
    scale = min(1.0, max_side / max(w, h, 1))
    size = [max(1, round(h * scale)), max(1, round(w * scale))]
    small = F.resize(img, size, antialias=True) if size != [h, w] else img
    hwc = small.permute(1, 2, 0).contiguous().cpu()
    return Thumbnail(int(hwc.shape[1]), int(hwc.shape[0]), hwc.numpy().tobytes())


@dataclass(slots=True)
class DeviceDecoded:
    """One batch decoded on the device: crops for the images that worked, in order."""

    crops: dict[int, torch.Tensor]  # position in the batch -> uint8 (3, crop, crop) on device
    thumbnails: dict[int, Thumbnail]
    failed: list[int]  # positions the device could not decode (Pillow takes them)
    decode_ms: float  # the whole batch's device decode + resize + crop


class JpegDecoder:
    """Decodes batches of :class:`EncodedJpeg` on ``device``; a batch the device refuses is
    retried one image at a time, and what still fails is left to Pillow (logged once)."""

    def __init__(self, device: torch.device, spec: TransformSpec):
        self.device = device
        self.spec = spec
        self._warned = False

    def decode(
        self, jpegs: dict[int, EncodedJpeg], thumbnail_size: int | None = None
    ) -> DeviceDecoded:
        t0 = time.perf_counter()
        keys = list(jpegs)
        images: dict[int, torch.Tensor] = {}
        try:
            out = self._decode([jpegs[k].data for k in keys])
            images = dict(zip(keys, out, strict=True))
        except RuntimeError as e:  # one bad file fails the whole list: go one by one
            self._note(e)
            for k in keys:
                try:
                    images[k] = self._decode([jpegs[k].data])[0]
                except RuntimeError as one:
                    log.debug("device decode failed for item %d: %s", k, one)
        crops, thumbs = {}, {}
        for k, img in images.items():
            img = upright(img, jpegs[k].orientation)
            crops[k] = crop_on_device(img, self.spec)
            if thumbnail_size:
                thumbs[k] = thumbnail_on_device(img, thumbnail_size)
        failed = [k for k in keys if k not in images]
        return DeviceDecoded(crops, thumbs, failed, _ms(t0))

    def _decode(self, data: list[torch.Tensor]) -> list[torch.Tensor]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torchvision 0.29 deprecates its image codecs
            out = decode_jpeg(data, mode=ImageReadMode.RGB, device=self.device)
        return list(out) if isinstance(out, list | tuple) else [out]

    def _note(self, error: Exception) -> None:
        if not self._warned:
            self._warned = True
            log.warning("decoding a batch on %s failed (%s): those images go one by one, "
                        "then through Pillow", self.device, first_line(error))  # fmt: skip


def _ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000
