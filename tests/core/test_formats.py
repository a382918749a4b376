"""Every format people have (HEIC, AVIF, WebP, JPEG XL, camera RAW, 16-bit, CMYK, palette,
multi-frame), upright; every file of a phone dump accounted for; labels that do not depend on
the format a photo was saved in."""

from __future__ import annotations

import pytest
from PIL import Image

from pigeonhole.core.data import formats, listing
from pigeonhole.core.data.images import decode_image, load_image
from pigeonhole.core.data.listing import IMAGE_EXTENSIONS, ScanStats, iter_image_files, skip_reason
from pigeonhole.core.data.samples import SAMPLE_FORMATS, can_write, write_dng, write_sample
from pigeonhole.core.data.synthetic import class_image
from pigeonhole.core.errors import ImageLoadError
from pigeonhole.core.runtime.inference import classify_paths
from tests.core.phone_dump import FAILED, ROW, SKIPPED, write_phone_dump
from tests.core.train_helpers import small_base

RED = class_image("red", 1, (400, 300))


def test_every_format_the_tests_need_is_installed():
    """CI installs ".[dev]": HEIC, AVIF, JPEG XL and RAW are all readable there."""
    assert all(can_write(fmt) for fmt in SAMPLE_FORMATS), [
        f for f in SAMPLE_FORMATS if not can_write(f)
    ]
    for ext in (".heic", ".heif", ".avif", ".webp", ".jxl", ".dng", ".cr2", ".nef", ".arw"):
        assert ext in IMAGE_EXTENSIONS


@pytest.mark.parametrize("fmt", sorted(SAMPLE_FORMATS))
def test_each_format_decodes_to_rgb_at_its_size(tmp_path, fmt):
    path = write_sample(RED, tmp_path, fmt)
    decoded = decode_image(path)
    img = decoded.image
    assert img.mode == "RGB"
    if fmt == "dng-mosaic":  # LibRaw's half-size demosaic
        assert img.size == (200, 150) and decoded.how == "demosaic"
        r, g, b = img.getpixel((100, 75))
        assert r > 2 * g and r > 2 * b  # still red
        return
    assert img.size == (400, 300)
    centre = img.getpixel((200, 150))
    want = RED.convert("L").getpixel((200, 150)) if fmt.endswith("16") else RED.getpixel((200, 150))
    if fmt.endswith("16"):
        want = (want, want, want)  # 16-bit grey scaled to 8 bits, not clipped
    assert all(abs(a - b) <= 12 for a, b in zip(centre, want, strict=True)), (centre, want)
    assert decoded.multi_frame == (fmt == "gif")
    assert decoded.how == ("preview" if fmt == "dng" else "")


def test_palette_transparency_is_composited_on_white(tmp_path):
    img = Image.new("P", (40, 30), 1)
    img.putpalette([0, 0, 0, 200, 40, 40] + [0] * 762)
    img.paste(0, (0, 0, 20, 30))
    img.save(tmp_path / "p.png", transparency=0)
    rgb = load_image(tmp_path / "p.png")
    assert rgb.getpixel((5, 5)) == (255, 255, 255) and rgb.getpixel((30, 5)) == (200, 40, 40)


def test_float_tiff_is_scaled_not_clipped(tmp_path):
    import numpy as np

    arr = np.linspace(0.0, 1.0, 40 * 30, dtype=np.float32).reshape(30, 40)
    Image.fromarray(arr, "F").save(tmp_path / "f.tif")
    rgb = load_image(tmp_path / "f.tif")
    assert rgb.getpixel((0, 0)) == (0, 0, 0) and rgb.getpixel((39, 29)) == (255, 255, 255)


@pytest.mark.parametrize("fmt", ["jpeg", "heic", "avif", "webp", "png", "jxl", "tiff"])
def test_exif_orientation_turns_every_format_upright(tmp_path, fmt):
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, shown portrait
    ext = {"jpeg": "jpg", "tiff": "tif"}.get(fmt, fmt)
    RED.save(tmp_path / f"o.{ext}", exif=exif.tobytes())
    assert load_image(tmp_path / f"o.{ext}").size == (300, 400)


@pytest.mark.parametrize("preview", [True, False])
def test_raw_orientation_and_how_it_was_read(tmp_path, preview):
    path = write_dng(tmp_path / "o.dng", RED, preview=RED if preview else None, orientation=6)
    decoded = decode_image(path, draft_size=64)
    assert decoded.how == ("preview" if preview else "demosaic")
    assert decoded.image.width < decoded.image.height  # turned upright


def test_raw_preview_only_when_large_enough_for_the_input(tmp_path):
    path = write_dng(tmp_path / "small_preview.dng", RED, preview=RED.resize((160, 120)))
    assert decode_image(path, draft_size=100).how == "preview"
    assert decode_image(path, draft_size=224).how == "demosaic"  # 120 px would be upscaled


def test_heic_decodes_a_stored_thumbnail_only_when_it_is_large_enough(tmp_path):
    big = class_image("blue", 3, (1600, 1200))
    big.save(tmp_path / "t.heic", quality=80, thumbnails=[320, 600])
    assert load_image(tmp_path / "t.heic", draft_size=160).size == (320, 240)
    assert load_image(tmp_path / "t.heic", draft_size=256).size == (600, 450)
    assert load_image(tmp_path / "t.heic", draft_size=700).size == (1600, 1200)
    assert load_image(tmp_path / "t.heic").size == (1600, 1200)


def test_broken_heic_and_raw_say_why(tmp_path):
    whole = write_sample(RED, tmp_path, "heic").read_bytes()
    (tmp_path / "half.heic").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "head.heic").write_bytes(whole[:200])
    (tmp_path / "junk.cr2").write_bytes(b"this is no raw file" * 10)
    jpeg = write_sample(RED, tmp_path, "jpeg").read_bytes()
    (tmp_path / "jpeg_named.nef").write_bytes(jpeg)  # content decides
    for name, words in (("half.heic", "truncated"), ("head.heic", "damaged or incomplete HEIF"),
                        ("junk.cr2", "not an image")):  # fmt: skip
        with pytest.raises(ImageLoadError, match=words):
            load_image(tmp_path / name)
    assert decode_image(tmp_path / "jpeg_named.nef").format == "JPEG"


def test_unknown_extensions_are_sniffed(tmp_path):
    jpeg = write_sample(RED, tmp_path, "jpeg").read_bytes()
    (tmp_path / "IMG_0001.JPG_original").write_bytes(jpeg)  # exiftool's backup name
    (tmp_path / "photo").write_bytes(jpeg)
    (tmp_path / "notes.xyz").write_text("#define not an image\n")
    (tmp_path / "tiny.q").write_bytes(b"\xff")
    assert skip_reason(tmp_path / "IMG_0001.JPG_original") is None
    assert skip_reason(tmp_path / "photo") is None
    assert skip_reason(tmp_path / "notes.xyz") == "other"
    assert skip_reason(tmp_path / "tiny.q") == "other"
    assert skip_reason(tmp_path / "clip.MP4") == "video"  # by name: never opened


def test_raw_without_rawpy_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setattr(formats, "raw_available", lambda: False)
    monkeypatch.setattr(listing, "IMAGE_EXTENSIONS", IMAGE_EXTENSIONS - formats.RAW_EXTENSIONS)
    write_dng(tmp_path / "IMG_1.CR2", RED)
    write_sample(RED, tmp_path, "jpeg")
    stats = ScanStats()
    assert [p.name for p in iter_image_files(tmp_path, stats)] == ["jpeg.jpg"]
    (group,) = stats.skipped.groups()
    assert group.text == '1 RAW file (.CR2) skipped: reading it needs pip install "pigeonhole[raw]"'


def test_phone_dump_every_file_is_a_row_or_a_skipped_entry(tmp_path):
    dump = write_phone_dump(tmp_path / "dump")
    stats = ScanStats()
    listed = {p.name for p in iter_image_files(dump.root, stats)}
    assert listed == dump.names(ROW) | dump.names(FAILED)
    skipped = {p.rsplit("/", 1)[-1]: g.reason for g in stats.skipped.groups() for p in g.paths}
    assert skipped == {n: why for n, (kind, why) in dump.expected.items() if kind == SKIPPED}
    assert (stats.ignored, stats.hidden) == (2, 2)
    texts = [g.text for g in stats.skipped.groups()]
    assert "1 video (.MOV) skipped" in texts and "1 edit sidecar (.AAE) skipped" in texts

    preds, summary = classify_paths(small_base(), [dump.root], topk=1)
    rows = {p.path.rsplit("/", 1)[-1]: p for p in preds}
    assert set(rows) == listed and len(preds) == len(listed)
    for name, (kind, detail) in dump.expected.items():
        if kind == ROW:
            assert rows[name].ok, (name, rows[name].error)
        elif kind == FAILED:
            assert detail in rows[name].error, (name, rows[name].error)
    assert summary.skipped_lines()[:2] == [
        "1 video (.MOV) skipped",
        "1 edit sidecar (.AAE) skipped",
    ]
    assert summary.skipped_lines()[-1] == (
        "(1 hidden file or folder and 1 macOS resource fork (._) skipped)"
    )


def test_labels_agree_whatever_the_format(tmp_path, decisive):
    """HEIC/AVIF/WebP/JPEG XL/DNG copies of a photo get the JPEG original's label, on every
    photo the model is decisive about. (The DNG embeds its preview, as cameras and converters
    do; one without is demosaiced by LibRaw, whose rendering is its own: see the decode tests.)"""
    formats_ = ("jpeg", "heic", "avif", "webp", "jxl", "dng")
    copies = {}
    for i, label in enumerate(("red", "green", "blue") * 3):
        photo = class_image(label, 900 + i, (400, 300))
        for fmt in formats_:
            (tmp_path / fmt).mkdir(exist_ok=True)
            copies[(i, fmt)] = write_sample(photo, tmp_path / fmt, fmt, f"{i}")
    preds, _ = classify_paths(decisive, list(copies.values()), topk=1)
    assert all(p.ok for p in preds), [p.error for p in preds if not p.ok]
    by_path = {p.path: p for p in preds}
    original = {i: by_path[str(copies[(i, "jpeg")])] for i in range(9)}
    decisive_on = [i for i, p in original.items() if p.confidence >= 0.8]
    assert len(decisive_on) >= 6
    for i in decisive_on:
        for fmt in formats_:
            assert by_path[str(copies[(i, fmt)])].label == original[i].label, (i, fmt)
