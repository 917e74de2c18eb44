"""Draw the web app icons in static/icons/ (run by hand after a change; needs Pillow, a test dependency).

A white bookmark (栞, shiori) on the portal's default brand colour; the maskable one keeps the
bookmark inside the central 80 % safe zone that launchers may crop to a circle.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

BRAND = (0x1F, 0x5F, 0x8B)
OUT = Path(__file__).resolve().parents[1] / "static" / "icons"


def bookmark(size: int, scale: float) -> Image.Image:
    image = Image.new("RGB", (size, size), BRAND)
    draw = ImageDraw.Draw(image)
    width, height = size * 0.42 * scale, size * 0.62 * scale
    left, top = (size - width) / 2, (size - height) / 2
    notch = height * 0.22
    draw.polygon([(left, top), (left + width, top), (left + width, top + height),
                  (left + width / 2, top + height - notch), (left, top + height)], fill="white")
    hole = width * 0.12
    cx, cy = left + width / 2, top + height * 0.18
    draw.ellipse([cx - hole, cy - hole, cx + hole, cy + hole], fill=BRAND)
    return image


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    for size in (192, 512):
        bookmark(size, 1.0).save(OUT / f"icon-{size}.png", optimize=True)
    bookmark(512, 0.75).save(OUT / "icon-maskable-512.png", optimize=True)
