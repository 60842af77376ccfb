#!/usr/bin/env python3
"""Draws the app icons (web/static/icon-*.png) from Mutual's mark, and writes the mark itself as
web/static/icon.svg. Run once when the mark changes, and commit what it writes:

    pip install Pillow && python3 scripts/make-icons.py

The mark: two rings that overlap, two people holding each other up, on the brand blue of
web/static/site.css (--brand) with the highlight yellow (--mark). One geometry feeds both the SVG
and the PNGs (Pillow draws it at four times the size and scales down, for smooth edges)."""

from pathlib import Path

from PIL import Image, ImageDraw

BRAND = "#0b4f8a"  # site.css --brand
WHITE = "#ffffff"
MARK = "#ffe066"  # site.css --mark
SIZE = 512
# (centre x, centre y, radius, stroke width, colour), on a 512 px square.
RINGS = [(200, 256, 110, 44, WHITE), (312, 256, 110, 44, MARK)]
CORNER = 96  # the rounded square's corner radius (the plain icons; maskable ones fill the square)

STATIC = Path(__file__).resolve().parent.parent / "web" / "static"


def svg() -> str:
    rings = "\n".join(
        f'<circle cx="{x}" cy="{y}" r="{r}" fill="none" stroke="{c}" stroke-width="{w}"/>'
        for x, y, r, w, c in RINGS
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {SIZE} {SIZE}">\n'
        f'<rect width="{SIZE}" height="{SIZE}" rx="{CORNER}" fill="{BRAND}"/>\n{rings}\n</svg>\n'
    )


def png(px: int, maskable: bool) -> Image.Image:
    scale = 4
    big = SIZE * scale
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    if maskable:
        # Launchers cut maskable icons to their own shape: fill the square, keep the mark
        # inside the middle 80 % (the safe zone).
        draw.rectangle([0, 0, big, big], fill=BRAND)
        shrink = 0.8
    else:
        draw.rounded_rectangle([0, 0, big - 1, big - 1], radius=CORNER * scale, fill=BRAND)
        shrink = 1.0
    centre = big / 2
    for x, y, r, w, colour in RINGS:
        cx = centre + (x - SIZE / 2) * scale * shrink
        cy = centre + (y - SIZE / 2) * scale * shrink
        outer = (r + w / 2) * scale * shrink
        draw.ellipse(
            [cx - outer, cy - outer, cx + outer, cy + outer],
            outline=colour,
            width=round(w * scale * shrink),
        )
    return image.resize((px, px), Image.LANCZOS)


def main() -> None:
    (STATIC / "icon.svg").write_text(svg())
    for name, px, maskable in [
        ("icon-192.png", 192, False),
        ("icon-512.png", 512, False),
        ("icon-maskable-512.png", 512, True),
    ]:
        png(px, maskable).save(STATIC / name, optimize=True)
        print("wrote", STATIC / name)


if __name__ == "__main__":
    main()
