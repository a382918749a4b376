"""core.data.listing, images and preprocessing: finding candidates, decoding every awkward kind
of file, preprocessing."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import transforms as T

from pigeonhole.core.bench.measure import classic_transform
from pigeonhole.core.data import images, listing, preprocessing
from pigeonhole.core.data.images import load_image
from pigeonhole.core.data.listing import (
    IMAGE_EXTENSIONS,
    BackgroundLister,
    ScanStats,
    image_paths,
    iter_image_files,
)
from pigeonhole.core.data.preprocessing import (
    crop_uint8,
    make_thumbnail,
    normalize_batch,
    preprocess,
)
from pigeonhole.core.data.synthetic import class_image, photo_like
from pigeonhole.core.errors import ImageLoadError
from pigeonhole.core.models.archs import TransformSpec
from pigeonhole.core.models.transforms import CP_CROP, CP_LETTERBOX
from tests.classification_pytorch import letterbox_image
from tests.core.broken_images import exif_rotated_jpeg, write_corpus


def _touch_image(path: Path, size=(24, 16), fmt=None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    class_image("red", len(str(path)), size).save(path, fmt or "PNG")
    return path


def _names(paths, root: Path) -> list[str]:
    return [p.relative_to(root).as_posix() for p in paths]


def test_extensions_cover_pillow_formats_and_nothing_else():
    for ext in (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".ppm"):
        assert ext in IMAGE_EXTENSIONS
    assert all(e == e.lower() and e.startswith(".") for e in IMAGE_EXTENSIONS)
    for ext in (".txt", ".xmp", ".mpg", ".json", ".pdf"):
        assert ext not in IMAGE_EXTENSIONS


def test_natural_order_recursive_hidden_and_ignored(tmp_path):
    for name in (
        "img10.png",
        "img2.png",
        "IMG3.PNG",
        "img1.jpg",
        "b/x.png",
        "a/z.png",
        "a/sub/y.png",
    ):
        _touch_image(tmp_path / name)
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "img1.xmp").write_text("x")
    _touch_image(tmp_path / ".hidden.png")
    _touch_image(tmp_path / ".cache" / "inside.png")
    stats = ScanStats()
    found = _names(iter_image_files([tmp_path], stats), tmp_path)
    assert found == [
        "a/sub/y.png",
        "a/z.png",
        "b/x.png",
        "img1.jpg",
        "img2.png",
        "IMG3.PNG",
        "img10.png",
    ]
    assert (stats.found, stats.ignored, stats.hidden, stats.duplicates) == (7, 2, 2, 0)
    # stable: the same order every time
    assert _names(iter_image_files(tmp_path), tmp_path) == found


def test_symlink_loops_and_duplicates(tmp_path):
    root = tmp_path / "photos"
    _touch_image(root / "one.png")
    _touch_image(root / "sub" / "two.png")
    os.symlink(root, root / "sub" / "loop")  # a loop back to the top
    os.symlink(root / "one.png", root / "sub" / "link_to_one.png")
    os.link(root / "one.png", root / "hardlink.png")  # a distinct path: kept
    stats = ScanStats()
    found = list(iter_image_files([root, root / "one.png", root], stats))
    assert _names(found, root) == ["hardlink.png", "one.png", "sub/two.png"]
    assert stats.duplicates == 4  # loop dir, symlinked file, one.png again, the folder again


def test_missing_path_and_explicit_files(tmp_path):
    img = _touch_image(tmp_path / "a.png")
    txt = tmp_path / "readme.txt"
    txt.write_text("x")
    stats = ScanStats()
    found = list(iter_image_files([tmp_path / "missing", img, txt], stats))
    assert found == [img]
    assert stats.ignored == 1
    assert len(stats.errors) == 1 and "missing" in stats.errors[0]


def test_listing_streams_and_stops(tmp_path):
    for d in ("a", "b", "c"):
        for i in range(5):
            _touch_image(tmp_path / d / f"{i}.png", size=(4, 4))
    stats = ScanStats()
    it = iter_image_files([tmp_path], stats)
    first = next(it)
    assert first.name == "0.png" and stats.found == 1  # b/ and c/ not listed yet
    flag = {"stop": False}
    got = []
    for p in iter_image_files([tmp_path], should_stop=lambda: flag["stop"]):
        got.append(p)
        flag["stop"] = len(got) >= 3
    assert len(got) == 3


def test_listed_paths_are_written_as_pathlib_writes_them(tmp_path, monkeypatch):
    """The listing builds each path as a string (a Path per file held the GIL a third of the
    time): the same string ``str(Path)`` gives, from any way of naming the folder."""
    _touch_image(tmp_path / "a.png")
    _touch_image(tmp_path / "sub" / "b.png")
    monkeypatch.chdir(tmp_path)
    assert list(image_paths(".")) == ["a.png", os.path.join("sub", "b.png")]
    assert list(image_paths(f"{tmp_path}{os.sep}")) == [
        str(tmp_path / "a.png"),
        str(tmp_path / "sub" / "b.png"),
    ]
    assert list(image_paths(["sub/", "a.png"])) == [os.path.join("sub", "b.png"), "a.png"]


def test_background_listing_hands_over_before_a_slow_folder(tmp_path, monkeypatch):
    """Paths go to the consumer in chunks (one queue hand-over per path was a third of the
    listing's work), but what is listed goes before a folder that is slow to read (a network
    share): the run starts on it meanwhile."""
    for i in range(3):
        _touch_image(tmp_path / "a" / f"{i}.png", size=(4, 4))
    _touch_image(tmp_path / "b" / "slow.png", size=(4, 4))
    release = threading.Event()
    real = listing._sorted_entries

    def stuck_on_b(folder, stats):
        if folder.endswith("b"):
            release.wait(timeout=10)
        return real(folder, stats)

    monkeypatch.setattr(listing, "_sorted_entries", stuck_on_b)
    lister = BackgroundLister([tmp_path], ScanStats(), None)
    try:
        got = [Path(lister.next(block=True)).name for _ in range(3)]
        assert got == ["0.png", "1.png", "2.png"] and lister.total is None
        release.set()
        assert Path(lister.next(block=True)).name == "slow.png"
        assert lister.next(block=True) is None and lister.total == 4 and lister.taken == 4
    finally:
        release.set()
        lister.stop()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_corpus(tmp_path_factory.mktemp("corpus"))


def test_corpus_scan_counts(corpus):
    stats = ScanStats()
    found = [p.name for p in iter_image_files(corpus.root, stats)]
    assert found == sorted(corpus.expected)
    assert stats.ignored == len(corpus.ignored) and stats.hidden == len(corpus.hidden)


def test_every_bad_file_kind_has_a_reason(corpus):
    for name, words in corpus.expected.items():
        if words is None:
            img = load_image(corpus.root / name)
            assert img.mode == "RGB" and min(img.size) > 0, name
        else:
            with pytest.raises(ImageLoadError, match=words):
                load_image(corpus.root / name)
    assert Image.MAX_IMAGE_PIXELS == 89_478_485  # Pillow's bomb limit is kept, not disabled


def test_vanished_and_unreadable(tmp_path, monkeypatch):
    with pytest.raises(ImageLoadError, match="not found"):
        load_image(tmp_path / "gone.jpg")
    path = _touch_image(tmp_path / "locked.png")
    if os.geteuid() != 0:
        path.chmod(0)
    else:  # root reads everything: simulate the operating system's refusal

        def refuse(*a, **k):
            raise PermissionError(13, "Permission denied")

        monkeypatch.setattr(images, "open", refuse, raising=False)
    with pytest.raises(ImageLoadError, match="permission denied"):
        load_image(path)


def test_exif_orientation_applied(tmp_path):
    path = tmp_path / "rot.jpg"
    exif_rotated_jpeg(path, size=(80, 40), orientation=6)
    img = load_image(path)
    assert img.size == (40, 80)
    top, bottom = img.getpixel((20, 10)), img.getpixel((20, 70))
    assert top[0] > 150 and top[2] < 100  # stored left half (red) is now on top
    assert bottom[2] > 150 and bottom[0] < 100


def test_modes_converted_correctly(tmp_path):
    grey16 = np.array([[0, 1000, 32896, 65535]], dtype=np.uint16).repeat(4, 0)
    Image.fromarray(grey16).save(tmp_path / "g16.png")
    assert Image.open(tmp_path / "g16.png").mode.startswith("I")
    px = np.asarray(load_image(tmp_path / "g16.png"))[0, :, 0]
    assert list(px) == [0, 4, 128, 255]  # scaled, not clipped to 255

    pal = Image.new("P", (4, 2), 0)
    pal.putpalette([0, 0, 0, 200, 0, 0] + [0] * 762)
    pal.paste(1, (2, 0, 4, 2))
    pal.save(tmp_path / "pal.png", transparency=0)
    rgb = load_image(tmp_path / "pal.png")
    assert rgb.getpixel((0, 0)) == (255, 255, 255)  # transparent -> white, not black
    assert rgb.getpixel((3, 0)) == (200, 0, 0)

    la = Image.new("LA", (4, 4), (50, 0))
    la.paste((50, 255), (0, 0, 2, 4))
    la.save(tmp_path / "la.png")
    rgb = load_image(tmp_path / "la.png")
    assert rgb.getpixel((0, 0)) == (50, 50, 50) and rgb.getpixel((3, 0)) == (255, 255, 255)

    Image.new("RGB", (16, 16), (200, 40, 40)).convert("CMYK").save(tmp_path / "c.jpg", quality=95)
    r, g, b = load_image(tmp_path / "c.jpg").getpixel((8, 8))
    assert abs(r - 200) < 12 and abs(g - 40) < 12 and abs(b - 40) < 12


def test_content_wins_over_extension(tmp_path):
    path = tmp_path / "really_a_png.jpg"
    class_image("blue", 0, (30, 20)).save(path, "PNG")
    assert load_image(path).size == (30, 20)


def test_draft_only_for_large_jpegs(tmp_path):
    photo_like(1, (1200, 900)).save(tmp_path / "big.jpg", quality=90)
    photo_like(2, (700, 525)).save(tmp_path / "mid.jpg", quality=90)
    big = load_image(tmp_path / "big.jpg", draft_size=256)
    assert big.size == (600, 450)  # decoded at 1/2 scale: still >= 256 on the short side
    assert load_image(tmp_path / "mid.jpg", draft_size=256).size == (700, 525)  # < 3x: full
    assert load_image(tmp_path / "big.jpg").size == (1200, 900)


@pytest.mark.parametrize(
    "spec",
    [TransformSpec(), TransformSpec(resize=232, crop=224, interpolation="bicubic")],
    ids=["bilinear", "bicubic"],
)
def test_preprocess_identical_to_torchvision(spec):
    tv = T.Compose(
        [
            T.Resize(
                spec.resize, interpolation=T.InterpolationMode(spec.interpolation), antialias=True
            ),
            T.CenterCrop(spec.crop),
            T.ToTensor(),
            T.Normalize(spec.mean, spec.std),
        ]
    )
    for size in ((500, 375), (375, 500), (333, 201)):
        img = photo_like(7, size)
        ours = preprocess(img, spec)
        assert ours.dtype == torch.float32 and ours.shape == (3, spec.crop, spec.crop)
        assert torch.equal(ours, tv(img))


def test_thumbnail_bytes():
    img = photo_like(3, (500, 375))
    th = make_thumbnail(img, 160)
    assert (th.width, th.height) == (160, 120)
    assert len(th.data) == th.width * th.height * 3
    small = make_thumbnail(Image.new("RGB", (20, 10), (1, 2, 3)), 160)
    assert (small.width, small.height) == (20, 10) and small.data[:3] == bytes([1, 2, 3])


# ---------------------------------------------------------------------------------------------
# Resize rules other than the shorter side, channel order, the classic script's transform

ODD_SIZES = ((500, 375), (375, 500), (333, 201), (224, 224), (997, 13), (50, 40))


@pytest.mark.parametrize("size", ODD_SIZES)
@pytest.mark.parametrize("letterbox", [True, False], ids=["letterbox", "centre-crop"])
def test_crops_are_classification_pytorchs_pixel_for_pixel(size, letterbox):
    """Its letterbox_image (bicubic onto grey, sizes truncated) and its resize + centre crop
    (Pillow bilinear): the same uint8 pixels, whatever the image's shape."""
    img = photo_like(11, size)
    theirs = np.asarray(letterbox_image(img, [224, 224], letterbox))
    ours = crop_uint8(img, CP_LETTERBOX if letterbox else CP_CROP).permute(1, 2, 0).numpy()
    assert ours.shape == (224, 224, 3) and np.array_equal(ours, theirs)


def test_a_stretched_resize_is_torchvisions_resize_to_both_sides():
    spec = TransformSpec(resize=160, crop=144, resize_mode="exact", interpolation="bicubic")
    tv = T.Compose([T.Resize((160, 160), interpolation=T.InterpolationMode.BICUBIC),
                    T.CenterCrop(144), T.ToTensor(), T.Normalize(spec.mean, spec.std)])  # fmt: skip
    for size in ((500, 375), (201, 333)):
        img = photo_like(5, size)
        assert torch.equal(preprocess(img, spec), tv(img))


def test_bgr_models_get_their_channels_swapped_and_a_range_is_exact():
    crop = torch.stack([torch.full((8, 8), v, dtype=torch.uint8) for v in (0, 51, 255)])
    spec = TransformSpec.scaled_to(-1, 1, resize=8, crop=8, channels="BGR")
    x = normalize_batch(crop.unsqueeze(0), spec)[0]
    assert x[:, 0, 0].tolist() == pytest.approx([1.0, 51 / 127.5 - 1, -1.0])  # B, G, R
    rgb = normalize_batch(crop.unsqueeze(0), TransformSpec.scaled_to(-1, 1, resize=8, crop=8))
    assert torch.equal(rgb[0].flip(0), x)


@pytest.mark.parametrize(
    "spec",
    [CP_LETTERBOX, TransformSpec(resize=100, crop=90, resize_mode="exact"),
     TransformSpec(resize=100, crop=90, channels="BGR"),
     TransformSpec(resize=120, crop=96, resize_mode="letterbox", fill=(10, 20, 30))],
    ids=["letterbox", "exact", "bgr", "letterbox-crop"],
)  # fmt: skip
def test_the_classic_scripts_transform_is_the_pipelines(spec):
    """The bench's naive loop builds torchvision transforms from the spec: the same input the
    pipeline makes (so its top-1 comparison compares like with like)."""
    for size in ((320, 240), (240, 320)):
        img = photo_like(3, size)
        assert torch.allclose(classic_transform(spec)(img), preprocess(img, spec), atol=1e-6)


# ---------------------------------------------------------------------------------------------
# The torch-free crops and normalisation (the ONNX Runtime path) against torchvision's


def _torchvision_crop(img, spec: TransformSpec) -> np.ndarray:
    """What the pipeline made with torchvision's functional ops before it was torch-free."""
    from torchvision.transforms import functional as TF

    interp = T.InterpolationMode(spec.interpolation)
    if spec.resize_mode == "letterbox":
        new_w, new_h, left, top = preprocessing.letterbox_geometry(
            img.width, img.height, spec.resize
        )
        small = TF.resize(img, [new_h, new_w], interpolation=interp, antialias=True)
        img = Image.new("RGB", (spec.resize, spec.resize), tuple(spec.fill))
        img.paste(small, (left, top))
    else:
        size = [spec.resize, spec.resize] if spec.resize_mode == "exact" else [spec.resize]
        img = TF.resize(img, size, interpolation=interp, antialias=True)
    return np.asarray(TF.center_crop(img, [spec.crop, spec.crop])).transpose(2, 0, 1)


@pytest.mark.parametrize("mode", ["shorter", "exact", "letterbox"])
@pytest.mark.parametrize("interpolation", ["bilinear", "bicubic", "nearest", "nearest-exact",
                                           "lanczos", "box", "hamming"])  # fmt: skip
def test_numpy_crops_are_torchvisions_pixel_for_pixel(mode, interpolation):
    for resize, crop in ((256, 224), (224, 224), (97, 61)):
        spec = TransformSpec(resize=resize, crop=crop, resize_mode=mode,
                             interpolation=interpolation, fill=(10, 200, 30))  # fmt: skip
        for size in ODD_SIZES + ((256, 300), (1, 1)):
            img = photo_like(sum(size), size)
            ours = preprocessing.crop_array(img, spec)
            assert ours.dtype == np.uint8 and ours.flags.c_contiguous and ours.flags.writeable
            assert np.array_equal(ours, _torchvision_crop(img, spec)), (spec, size)


def test_a_crop_larger_than_the_image_is_padded_as_torchvision_pads_it():
    from torchvision.transforms import functional as TF

    for size in ((10, 7), (7, 10), (30, 5)):
        img = photo_like(1, size)
        theirs = np.asarray(TF.center_crop(img, [12, 12]))
        assert np.array_equal(np.asarray(preprocessing.center_crop(img, 12)), theirs)


@pytest.mark.parametrize("spec", [TransformSpec(), TransformSpec.scaled_to(-1, 1, channels="BGR"),
                                  TransformSpec(mean=(0.1, 0.7, 0.3), std=(0.9, 0.01, 2.0))],
                         ids=["imagenet", "bgr-range", "odd"])  # fmt: skip
def test_numpy_normalisation_is_torchs_bit_for_bit(spec):
    rng = np.random.default_rng(0)
    batch = rng.integers(0, 256, size=(3, 3, 17, 19), dtype=np.uint8)
    ours = preprocessing.normalize_array(batch, spec)
    assert ours.dtype == np.float32
    assert np.array_equal(ours, normalize_batch(torch.from_numpy(batch), spec).numpy())
