"""Peak memory of decoding one huge image: a 12,000 x 12,000 PNG (RGB and RGBA) and JPEG.

Each measurement runs in a fresh child process: after the imports its peak RSS is reset
(``/proc/self/clear_refs``, Linux), then it runs what the pipeline runs for one file
(``load_image`` with the model's resize as the draft size, then ``crop_uint8``) and reports
the peak RSS above the RSS before decoding. tracemalloc cannot see Pillow's pixel buffers
(they are C allocations), so RSS is the measure. The pixels themselves are printed for scale
(Pillow keeps RGB as 4 bytes a pixel).

    python benchmarks/bench_huge_image.py               # 12,000 x 12,000
    python benchmarks/bench_huge_image.py --side 6000   # quicker
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _status(field: str) -> int:
    """A /proc/self/status field in bytes (VmRSS, VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def child(path: str, draft: bool) -> None:
    from pigeonhole.core.data.images import load_image
    from pigeonhole.core.data.preprocessing import crop_uint8
    from pigeonhole.core.models.archs import TransformSpec

    spec = TransformSpec()  # resize 256, crop 224
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak RSS to the current RSS
    before = _status("VmRSS")
    t0 = time.perf_counter()
    error = None
    try:
        img = load_image(path, draft_size=spec.resize if draft else None)
        size = img.size
        crop_uint8(img, spec)
        del img
    except Exception as e:  # reported, not hidden: the figure says the file failed
        error, size = f"{type(e).__name__}: {e}", None
    seconds = time.perf_counter() - t0
    peak = _status("VmHWM") - before
    print(json.dumps({"peak": peak, "seconds": seconds, "decoded": size, "error": error}))


def make_images(folder: Path, side: int) -> dict[str, Path]:
    import numpy as np
    from PIL import Image

    made = {}
    ramp = np.linspace(0, 255, side, dtype=np.float32)
    r = np.broadcast_to(ramp[None, :], (side, side))
    g = np.broadcast_to(ramp[:, None], (side, side))
    rgb = np.stack([r, g, (r + g) / 2], axis=-1).astype(np.uint8)
    for name, mode, fmt in (("rgb.png", "RGB", "PNG"), ("rgba.png", "RGBA", "PNG"),
                            ("rgb.jpg", "RGB", "JPEG")):  # fmt: skip
        path = folder / f"{side}-{name}"
        if not path.exists():
            img = Image.fromarray(rgb, "RGB")
            if mode == "RGBA":
                img.putalpha(200)
            kw = {"compress_level": 1} if fmt == "PNG" else {"quality": 85}
            img.save(path, fmt, **kw)
            del img
        made[name] = path
    return made


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--side", type=int, default=12_000)
    ap.add_argument("--folder", help="keep the generated images here (default: a temp folder)")
    ap.add_argument("--child", nargs=2, metavar=("PATH", "DRAFT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], args.child[1] == "1")
        return
    with tempfile.TemporaryDirectory(prefix="pigeonhole-huge-") as tmp:
        folder = Path(args.folder) if args.folder else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        images = make_images(folder, args.side)
        pixels_mb = args.side * args.side * 3 / 1e6
        print(f"{args.side} x {args.side}: {pixels_mb:.0f} MB of RGB pixels "
              f"({pixels_mb * 4 / 3:.0f} MB as Pillow stores RGB)")  # fmt: skip
        for name, path in images.items():
            for draft in (True, False):
                out = subprocess.run(
                    [sys.executable, __file__, "--child", str(path), "1" if draft else "0"],
                    capture_output=True, text=True, check=True,
                )  # fmt: skip
                res = json.loads(out.stdout.strip().splitlines()[-1])
                what = "reduced decoding" if draft else "full size (--no-draft)"
                result = res["error"] or f"decoded at {res['decoded'][0]} x {res['decoded'][1]}"
                print(f"  {name:<9} {what:<23} peak +{res['peak'] / 1e6:7.0f} MB "
                      f"({res['peak'] / 1e6 / pixels_mb:4.2f}x the RGB pixels), "
                      f"{res['seconds']:5.1f} s, {result}")  # fmt: skip


if __name__ == "__main__":
    main()
