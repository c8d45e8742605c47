"""A phone lock-screen wallpaper: the QR in the lower middle, white on black.

Someone who finds a collapsed person often has their phone; the lock screen
shows without unlocking. The top stays black for the clock, the bottom for
the torch and camera buttons; the QR sits on a white panel in the lower
middle with its quiet zone, whole-pixel modules, and the words a paramedic
needs. No name is shown: a lock screen is seen by anyone nearby.
"""

from __future__ import annotations

import io

from PIL import Image, ImageDraw

from cards import layout as base
from cards import text as tx
from cards.errors import CardError

# (width, height) px and the screen's pixels per inch (for module size in mm)
SCREENS = {"1170x2532": (1170, 2532, 460), "1080x2400": (1080, 2400, 405)}
DEFAULT_SCREEN = "1170x2532"
MIN_MODULE_PX = 7  # 0.39 mm at 460 ppi, 0.44 mm at 405 ppi
QR_WIDTH = 0.78  # of the screen width, quiet zone included
QR_CENTRE = 0.62  # of the screen height
BLACK = (0, 0, 0)
TITLE = "MEDICAL ID"
WORDS = (
    "Emergency? Scan this code with a phone camera. Clinicians sign in to see "
    "allergies, medicines and contacts."
)


def module_for(url: str, screen: str) -> tuple[object, int, int]:
    """(symbol, modules across it, module px) on this screen, or CardError."""
    width, _height, _ppi = _screen(screen)
    qr, n, _ = base.qr_module(url, 10**6, largest=base.MIN_MODULE)
    module = int(width * QR_WIDTH) // (n + 2 * base.QUIET)
    if module < MIN_MODULE_PX:
        raise CardError(
            f"the tag needs a {n}x{n} QR code, too big for a {screen} lock screen; "
            "use a linked tag or shorten the summary"
        )
    return qr, n, module


def wallpaper(url: str, screen: str = DEFAULT_SCREEN) -> Image.Image:
    width, height, _ppi = _screen(screen)
    qr, n, module = module_for(url, screen)
    image = Image.new("RGB", (width, height), BLACK)
    block = (n + 2 * base.QUIET) * module
    pad = 3 * module  # white beyond the quiet zone, so the panel reads as a card
    x = (width - block) // 2
    y = round(height * QR_CENTRE) - block // 2
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle(
        (x - pad, y - pad, x + block + pad - 1, y + block + pad - 1), radius=4 * module,
        fill=base.WHITE,
    )
    base._paste_qr(image, qr, x + base.QUIET * module, y + base.QUIET * module, module)
    band_h = round(width * 0.16)
    band_top = y - pad - band_h - round(width * 0.03)
    draw.rectangle((0, band_top, width - 1, band_top + band_h - 1), fill=base.RED)
    base._centre_text(draw, (60, band_top + 25, width - 60, band_top + band_h - 25), TITLE,
                      base.WHITE)
    below = y + block + pad + round(width * 0.04)
    words = tx.fit(WORDS, width - 160, height * 0.9 - below, round(width * 0.045),
                   round(width * 0.03), 4, bold=True)
    if words is None:
        raise CardError("no installed font fits the lock-screen words")
    tx.draw_block(draw, (80, below), words, base.WHITE)
    return image


def png(url: str, screen: str = DEFAULT_SCREEN) -> bytes:
    """The wallpaper as PNG bytes, tagged with the screen's pixel density."""
    _width, _height, ppi = _screen(screen)
    out = io.BytesIO()
    wallpaper(url, screen).save(out, "PNG", dpi=(ppi, ppi))
    return out.getvalue()


def _screen(screen: str) -> tuple[int, int, int]:
    if screen not in SCREENS:
        raise CardError(f"screen must be one of {', '.join(SCREENS)}, not {screen!r}")
    return SCREENS[screen]
