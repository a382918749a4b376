"""Draw the Pigeonhole app icon and write every format the packagers need.

A rounded tile holding a 3x3 rack of pigeonholes, one of them lit and holding a pigeon: the app
sorts images into their holes. Drawn at 1024 px with Pillow and scaled down, so it stays crisp.

    python resources/make_icons.py            # writes resources/icons/pigeonhole{,-256,-512}.png,
                                              # pigeonhole.ico (Windows), pigeonhole.icns (macOS)
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

S = 1024  # master size
TILE_TOP = (54, 92, 160)
TILE_BOTTOM = (26, 48, 96)
HOLE = (16, 28, 58)
HOLE_LIT = (250, 196, 72)
BIRD = (196, 204, 218)  # pigeon grey
BIRD_SHADE = (120, 130, 150)
NECK = (96, 150, 130)  # the green sheen of a pigeon's neck
EYE = (20, 24, 40)
BEAK = (240, 140, 50)


def _vertical_gradient(size: int, top: tuple, bottom: tuple) -> Image.Image:
    grad = Image.linear_gradient("L").resize((size, size))
    return Image.composite(
        Image.new("RGB", (size, size), bottom), Image.new("RGB", (size, size), top), grad
    )


def _rounded_mask(size: int, box: tuple[int, int, int, int], radius: int) -> Image.Image:
    mask = Image.new("L", (size, size), 0)
    ImageDraw.Draw(mask).rounded_rectangle(box, radius=radius, fill=255)
    return mask


def _draw_pigeon(draw: ImageDraw.ImageDraw, cx: float, cy: float, u: float) -> None:
    """A sitting pigeon facing right, centred near (cx, cy); ``u`` is the hole's width."""

    def p(x: float, y: float) -> tuple[float, float]:
        return (cx + x * u, cy + y * u)

    # tail, body, wing, head, eye, beak (coordinates in hole widths)
    draw.polygon([p(-0.12, 0.05), p(-0.46, 0.16), p(-0.44, 0.26), p(-0.08, 0.2)], fill=BIRD_SHADE)
    draw.ellipse((*p(-0.3, -0.08), *p(0.22, 0.3)), fill=BIRD)
    draw.chord((*p(-0.26, -0.02), *p(0.12, 0.26)), start=200, end=20, fill=BIRD_SHADE)
    w = max(2, int(u * 0.03))
    draw.line([p(-0.18, 0.1), p(0.0, 0.12)], fill=EYE, width=w)  # the two wing bars
    draw.line([p(-0.2, 0.16), p(-0.02, 0.18)], fill=EYE, width=w)
    draw.ellipse((*p(0.0, -0.14), *p(0.2, 0.06)), fill=NECK)
    draw.ellipse((*p(0.06, -0.3), *p(0.3, -0.06)), fill=BIRD)  # neck
    draw.ellipse((*p(0.175, -0.225), *p(0.225, -0.175)), fill=EYE)
    draw.polygon([p(0.28, -0.2), p(0.4, -0.16), p(0.28, -0.12)], fill=BEAK)
    draw.line([p(-0.04, 0.29), p(-0.04, 0.36)], fill=BEAK, width=max(2, int(u * 0.035)))
    draw.line([p(0.07, 0.29), p(0.07, 0.36)], fill=BEAK, width=max(2, int(u * 0.035)))


def draw_icon(size: int = S) -> Image.Image:
    """The icon as an RGBA image of ``size`` px (drawn at 1024 and resampled)."""
    margin = int(S * 0.06)
    tile_box = (margin, margin, S - margin, S - margin)
    radius = int(S * 0.2)

    icon = Image.new("RGBA", (S, S), (0, 0, 0, 0))
    # soft drop shadow under the tile
    shadow = _rounded_mask(
        S, (tile_box[0], tile_box[1] + 18, tile_box[2], tile_box[3] + 18), radius
    )
    shadow = shadow.filter(ImageFilter.GaussianBlur(18)).point(lambda v: v * 0.45)
    icon.paste((0, 0, 0, 255), (0, 0), shadow)
    icon.paste(
        _vertical_gradient(S, TILE_TOP, TILE_BOTTOM), (0, 0), _rounded_mask(S, tile_box, radius)
    )

    draw = ImageDraw.Draw(icon)
    inner = tile_box[0] + int(S * 0.12)
    span = (tile_box[2] - int(S * 0.12)) - inner
    gap = int(S * 0.04)
    cell = (span - 2 * gap) / 3
    lit = (1, 1)  # the pigeon sits in the middle hole
    for row in range(3):
        for col in range(3):
            x0 = inner + col * (cell + gap)
            y0 = inner + row * (cell + gap)
            box = (x0, y0, x0 + cell, y0 + cell)
            draw.rounded_rectangle(
                box, radius=int(cell * 0.14), fill=HOLE_LIT if (row, col) == lit else HOLE
            )
            if (row, col) != lit:  # a thin highlight on each hole's lower lip
                draw.line(
                    [(x0 + cell * 0.15, y0 + cell - 3), (x0 + cell * 0.85, y0 + cell - 3)],
                    fill=(70, 104, 170),
                    width=6,
                )
    x0 = inner + lit[1] * (cell + gap)
    y0 = inner + lit[0] * (cell + gap)
    # the pigeon overflows its hole a little so it reads at small sizes
    _draw_pigeon(draw, x0 + cell * 0.48, y0 + cell * 0.52, cell * 1.1)
    if size != S:
        icon = icon.resize((size, size), Image.Resampling.LANCZOS)
    return icon


def write_icons(out_dir: Path) -> list[Path]:
    """Write the PNGs (256, 512, and the default 256 one the app loads), .ico and .icns."""
    out_dir.mkdir(parents=True, exist_ok=True)
    master = draw_icon(S)
    written = []
    for size in (256, 512):
        path = out_dir / f"pigeonhole-{size}.png"
        master.resize((size, size), Image.Resampling.LANCZOS).save(path, optimize=True)
        written.append(path)
    default = out_dir / "pigeonhole.png"
    master.resize((256, 256), Image.Resampling.LANCZOS).save(default, optimize=True)
    written.append(default)
    ico = out_dir / "pigeonhole.ico"
    master.save(
        ico, sizes=[(16, 16), (24, 24), (32, 32), (48, 48), (64, 64), (128, 128), (256, 256)]
    )
    written.append(ico)
    icns = out_dir / "pigeonhole.icns"
    master.save(icns)  # Pillow writes every icns size from 16 to 1024 (512@2x)
    written.append(icns)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "icons")
    args = parser.parse_args()
    for path in write_icons(args.out):
        print(path)


if __name__ == "__main__":
    main()
