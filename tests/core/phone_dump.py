"""A generated "phone dump": what people drag in from a phone, a camera card and a downloads
folder, with what each file must become (a classified row, a failed row with its reason, or a
skipped entry with its reason key)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from pigeonhole.core.data.samples import write_sample
from pigeonhole.core.data.synthetic import class_image, photo_like

ROW, FAILED, SKIPPED = "row", "failed", "skipped"


@dataclass
class PhoneDump:
    root: Path
    expected: dict[str, tuple[str, str | None]]  # file name -> (ROW/FAILED/SKIPPED, detail)

    def names(self, kind: str) -> set[str]:
        return {n for n, (k, _) in self.expected.items() if k == kind}


def write_phone_dump(root: Path) -> PhoneDump:
    root.mkdir(parents=True, exist_ok=True)
    photo = class_image("red", 7, (640, 480))
    expected: dict[str, tuple[str, str | None]] = {}

    def sample(fmt: str, stem: str, img: Image.Image = photo) -> None:
        path = write_sample(img, root, fmt, stem)
        final = path.with_name(stem + path.suffix.upper() if stem.startswith("IMG") else path.name)
        path.rename(final)
        expected[final.name] = (ROW, None)

    sample("heic", "IMG_0001")
    sample("jpeg", "IMG_0002", photo_like(3, (4032, 3024)))  # 12 MP
    sample("png", "Screenshot 2024-05-01 at 10.02.11", class_image("blue", 2, (390, 844)))
    sample("webp", "download")
    sample("avif", "download-2")
    sample("dng", "IMG_0003")
    sample("cmyk", "scan_cmyk")
    sample("tiff16", "scan_16bit")
    # The live photo's clip and the edit sidecar beside it; macOS litter.
    (root / "IMG_0001.MOV").write_bytes(b"\0\0\0\x14ftypqt  \0\0\0\0qt  " + bytes(64))
    expected["IMG_0001.MOV"] = (SKIPPED, "video")
    (root / "IMG_0001.AAE").write_text('<?xml version="1.0" encoding="UTF-8"?>\n<plist/>\n')
    expected["IMG_0001.AAE"] = (SKIPPED, "sidecar")
    (root / "._IMG_0001.HEIC").write_bytes(b"\0\x05\x16\x07\0\x02\0\0Mac OS X        ")
    expected["._IMG_0001.HEIC"] = (SKIPPED, "fork")
    (root / ".DS_Store").write_bytes(b"\0\0\0\1Bud1" + bytes(32))
    expected[".DS_Store"] = (SKIPPED, "hidden")
    # Broken ones: failed rows with their reason.
    (root / "empty.jpg").write_bytes(b"")
    expected["empty.jpg"] = (FAILED, "empty file")
    whole = write_sample(photo, root, "heic", "whole").read_bytes()
    (root / "whole.heic").unlink()
    (root / "IMG_0004.HEIC").write_bytes(whole[: len(whole) // 2])
    expected["IMG_0004.HEIC"] = (FAILED, "truncated")
    return PhoneDump(root, expected)
