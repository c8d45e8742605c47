"""Checking what a browser prints: Chromium's PDF with background graphics off (the print
dialog's default), counted with pdfinfo and rasterised with pdftoppm (poppler-utils)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image


def needs_poppler() -> None:
    if shutil.which("pdftoppm") is None or shutil.which("pdfinfo") is None:
        pytest.skip("pdftoppm not installed (Debian package poppler-utils; CI installs it)")


def print_to_png(page, folder: Path, name: str, dpi: int = 100) -> tuple[int, Path]:
    """Print `page` to A4 as the browser would; (number of pages, PNG of the first page)."""
    pdf = folder / f"{name}.pdf"
    page.pdf(path=str(pdf), format="A4", print_background=False)
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    pages = int(re.search(r"^Pages:\s+(\d+)$", info.stdout, re.M).group(1))
    stem = folder / name
    subprocess.run(
        ["pdftoppm", "-r", str(dpi), "-png", "-singlefile", str(pdf), str(stem)], check=True
    )
    return pages, stem.with_suffix(".png")


def _luminance(rgb) -> float:
    def channel(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a, b) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def coloured(png: Path, colour, tolerance: int = 40) -> tuple[Image.Image, list]:
    """The image and the (x, y) of every other pixel within `tolerance` of `colour`."""
    image = Image.open(png).convert("RGB")
    pixels = image.load()
    width, height = image.size
    found = [
        (x, y)
        for y in range(0, height, 2)
        for x in range(0, width, 2)
        if all(abs(pixels[x, y][i] - colour[i]) < tolerance for i in range(3))
    ]
    return image, found


def text_on_colour(png: Path, colour, rows: int = 30) -> float:
    """Contrast of the lightest pixel in the first `rows` of the coloured area with it."""
    image, found = coloured(png, colour)
    assert len(found) > 500, f"nothing printed in {colour}: its background was dropped"
    pixels = image.load()
    top = min(y for _, y in found)
    left, right = min(x for x, _ in found), max(x for x, _ in found)
    band = [pixels[x, y] for y in range(top, top + rows) for x in range(left, right)]
    return contrast(max(band, key=_luminance), colour)
