"""The GPU decoding path, run on the CPU: torchvision's decode_jpeg takes a list of byte tensors
on either device, and resize/crop/normalise run on tensors anywhere, so only the device argument
differs on CUDA. Checked here: EXIF orientation, the Pillow fallback for everything that is not a
plain JPEG, failed rows for broken files, thumbnails, and top-1 agreement with the Pillow path on
a decisive model."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps
from torchvision.io import ImageReadMode, decode_jpeg

from pigeonhole.core.data.preprocessing import crop_uint8
from pigeonhole.core.data.synthetic import class_image
from pigeonhole.core.models.transforms import CP_CROP, CP_LETTERBOX, TransformSpec
from pigeonhole.core.runtime.gpu_decode import JpegDecoder, crop_on_device, read_jpeg, upright
from pigeonhole.core.runtime.inference import classify_paths
from pigeonhole.core.runtime.options import RunOptions
from pigeonhole.core.runtime.plan import plan_run
from tests.core.broken_images import jpeg_bytes, write_corpus
from tests.core.train_helpers import SMALL

CLASSES = ("red", "green", "blue")


def gpu_path_on_cpu(arch: str = "resnet18", batch_size: int = 8):
    """The plan a CUDA run gets (decode on the device), with the CPU as the device."""
    return dataclasses.replace(
        plan_run(arch, RunOptions(device="cpu", batch_size=batch_size)), gpu_decode=True
    )


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_matches_pillow(tmp_path, orientation):
    img = Image.new("RGB", (80, 40), (220, 20, 20))
    img.paste((20, 20, 220), (40, 0, 80, 20))  # asymmetric: every turn and flip differs
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"o{orientation}.jpg"
    img.save(path, "JPEG", quality=95, exif=exif)
    jpeg = read_jpeg(str(path))
    assert jpeg is not None and jpeg.orientation == orientation
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torchvision 0.29's codecs
        ours = upright(decode_jpeg(jpeg.data, mode=ImageReadMode.RGB), orientation)
    with Image.open(path) as im:
        want = torch.from_numpy(np.array(ImageOps.exif_transpose(im))).permute(2, 0, 1)
    assert ours.shape == want.shape
    assert (ours.float() - want.float()).abs().mean() < 2.0


def test_not_plain_jpegs_are_left_to_pillow(tmp_path):
    img = class_image("red", 1, (64, 48))
    img.save(tmp_path / "a.png")
    img.convert("CMYK").save(tmp_path / "c.jpg", "JPEG")
    (tmp_path / "p.jpg").write_bytes(b"\x89PNG" + b"0" * 40)
    assert read_jpeg(str(tmp_path / "a.png")) is None
    assert read_jpeg(str(tmp_path / "c.jpg")) is None  # CMYK: Pillow converts it properly
    assert read_jpeg(str(tmp_path / "p.jpg")) is None
    img.save(tmp_path / "g.jpg", "JPEG")
    assert read_jpeg(str(tmp_path / "g.jpg")) is not None


def test_one_bad_jpeg_does_not_fail_its_batch(tmp_path, caplog):
    good = [jpeg_bytes(class_image(c, i, (96, 72))) for i, c in enumerate(CLASSES)]
    bad = good[0][:700] + bytes(200)  # the headers, then zeros where the picture should be
    paths = []
    for i, data in enumerate([*good, bad]):
        paths.append(tmp_path / f"{i}.jpg")
        paths[-1].write_bytes(data)
    jpegs = {i: read_jpeg(str(p)) for i, p in enumerate(paths)}
    out = JpegDecoder(torch.device("cpu"), SMALL).decode(jpegs, thumbnail_size=32)
    assert sorted(out.crops) == [0, 1, 2] and out.failed == [3]
    assert all(c.shape == (3, 64, 64) and c.dtype == torch.uint8 for c in out.crops.values())
    assert max(out.thumbnails[0].width, out.thumbnails[0].height) == 32


def test_every_corpus_file_ends_as_with_pillow(tmp_path, decisive):
    """Broken files are failed rows with the same reasons; good ones are classified."""
    corpus = write_corpus(tmp_path)
    preds, summary = classify_paths(decisive, [tmp_path], plan=gpu_path_on_cpu(), topk=1)
    by_name = {p.path.rsplit("/", 1)[-1]: p for p in preds}
    assert set(by_name) == set(corpus.expected)
    for name, expect in corpus.expected.items():
        p = by_name[name]
        if expect is None:
            assert p.ok, (name, p.error)
        else:
            assert not p.ok and expect in p.error, (name, p.error)
    assert summary.decode == "gpu" and "(on the GPU)" in summary.line()


def test_gpu_decoding_agrees_with_pillow_on_a_decisive_model(tmp_path, decisive):
    """Different decoders and resize kernels differ by a few grey levels: labels must not."""
    for i in range(99):
        label = CLASSES[i % 3]
        class_image(label, 100 + i, (320, 240)).save(tmp_path / f"{label}_{i:03d}.jpg", quality=88)
    cpu, _ = classify_paths(decisive, [tmp_path], device="cpu", batch_size=8, topk=1)
    gpu, _ = classify_paths(decisive, [tmp_path], plan=gpu_path_on_cpu(), topk=1, thumbnail_size=48)
    assert [p.path for p in cpu] == [p.path for p in gpu]
    same = sum(a.label == b.label for a, b in zip(cpu, gpu, strict=True)) / len(cpu)
    assert same >= 0.99
    right = sum(p.label == p.path.rsplit("/", 1)[-1].split("_")[0] for p in gpu) / len(gpu)
    assert right >= 0.9  # the model is decisive, so agreement means something
    assert all(
        p.thumbnail is not None and max(p.thumbnail.width, p.thumbnail.height) == 48 for p in gpu
    )
    assert all(p.read_ms > 0 and p.decode_ms >= p.read_ms for p in gpu)


@pytest.mark.parametrize(
    "spec",
    [CP_LETTERBOX, CP_CROP, TransformSpec(resize=100, crop=90, resize_mode="exact"),
     TransformSpec(resize=120, crop=96, resize_mode="letterbox", fill=(0, 0, 255))],
    ids=["letterbox", "centre-crop", "exact", "letterbox-crop"],
)  # fmt: skip
@pytest.mark.parametrize("size", [(320, 240), (240, 320), (333, 201)])
def test_resize_rules_on_the_device_match_pillow(spec, size):
    """crop_on_device (letterbox canvas, stretch, shorter side) against crop_uint8: the
    canvas, its fill and the image's place are the same; resampled pixels within 2 levels
    (bicubic rounds differently on tensors)."""
    img = class_image("red", 3, size)
    on_device = crop_on_device(torch.from_numpy(np.array(img)).permute(2, 0, 1), spec)
    pillow = crop_uint8(img, spec)
    assert on_device.shape == pillow.shape == (3, spec.crop, spec.crop)
    assert on_device.dtype == torch.uint8
    diff = (on_device.int() - pillow.int()).abs()
    assert diff.max() <= 2 and diff.float().mean() < 0.01
    if spec.resize_mode == "letterbox" and size[0] != size[1]:
        fill = torch.tensor(spec.fill, dtype=torch.uint8)
        assert torch.equal(on_device[:, 0, 0], fill) and torch.equal(on_device[:, -1, -1], fill)


def test_a_letterbox_model_decoded_on_the_device_agrees_with_pillow(tmp_path, decisive):
    """The device path letterboxes too (canvas, fill, placement): a run with GPU decoding and
    one through Pillow give the same labels on wide and tall photos."""
    boxed = dataclasses.replace(
        decisive,
        transform=TransformSpec(resize=64, crop=64, resize_mode="letterbox", fill=(128, 128, 128)),
        fused=None,
    )
    for i in range(24):
        label = CLASSES[i % 3]
        size = ((320, 160), (160, 320), (300, 200))[i % 3]
        class_image(label, 500 + i, size).save(tmp_path / f"{label}_{i:03d}.jpg", quality=90)
    cpu, _ = classify_paths(boxed, [tmp_path], device="cpu", batch_size=8, topk=1)
    gpu, summary = classify_paths(boxed, [tmp_path], plan=gpu_path_on_cpu(), topk=1)
    assert summary.decode == "gpu" and all(p.ok for p in gpu)
    same = sum(a.label == b.label for a, b in zip(cpu, gpu, strict=True)) / len(cpu)
    assert same >= 0.95
    right = sum(p.label == p.path.rsplit("/", 1)[-1].split("_")[0] for p in gpu) / len(gpu)
    assert right >= 2 / 3  # well above chance (trained on crops): not agreement on noise
