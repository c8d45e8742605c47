"""A wristband strip: "MEDICAL ID — scan" on red beside the QR, at most 25 mm tall.

A wristband (or a watch-strap slide) has room for a strip about 25 mm high.
A phone camera needs modules of at least 0.5 mm at arm's length and a
4-module quiet zone, so only a small QR fits: a linked tag does, a
self-contained (v1) tag never does, and is refused with what to use instead.
"""

from __future__ import annotations

import math

from PIL import Image

from cards import layout as base
from cards.errors import CardError

STRIP_H = math.floor(25 * base.MM)  # 590 px at 600 dpi = 24.98 mm
MIN_MODULE = math.ceil(0.5 * base.MM)  # 12 px = 0.51 mm
MAX_MODULE = 24  # 1 mm
LABEL_W = round(52 * base.MM)
LABEL = "MEDICAL ID — scan"


def module_for(url: str) -> tuple[object, int, int]:
    """(symbol, modules across it, module px) for the wristband, or CardError saying why not."""
    qr, n, _ = base.qr_module(url, 10**6, largest=MIN_MODULE)
    module = min(MAX_MODULE, STRIP_H // (n + 2 * base.QUIET))
    if module < MIN_MODULE:
        needed = (n + 2 * base.QUIET) * MIN_MODULE / base.MM
        raise CardError(
            f"this tag needs a {n}x{n} QR code: with modules of at least 0.5 mm and its quiet "
            f"zone it is {needed:.0f} mm tall, more than a 25 mm wristband. A self-contained "
            "tag is too large for a wristband: use a linked tag, or --layout keyring"
        )
    return qr, n, module


def strip(url: str) -> Image.Image:
    """The strip: red label at left, the QR (with its white quiet zone) at right."""
    qr, n, module = module_for(url)
    block = (n + 2 * base.QUIET) * module
    image, draw = base._canvas(LABEL_W + block, STRIP_H)
    draw.rectangle((0, 0, LABEL_W - 1, STRIP_H - 1), fill=base.RED)
    middle = STRIP_H // 2
    base._centre_text(draw, (40, middle - 90, LABEL_W - 40, middle + 90), LABEL, base.WHITE)
    top = (STRIP_H - block) // 2
    base._paste_qr(image, qr, LABEL_W + base.QUIET * module, top + base.QUIET * module, module)
    return image
