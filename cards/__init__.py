"""Wallet cards, inserts, wristbands, lock screens (Pillow; PNG and PDF) and NFC records.

`render_card(url, first_name=..., tag_id=..., issued=..., review=..., issuer=...)`
returns PNG or PDF bytes; `check_card(...)` refuses unprintable words before a
tag is issued; both raise `CardError` (a ValueError) with a message to act on.
The bare QR helpers (`make_qr`, `qr_png`, `qr_version`) stay for `--out x.png`
callers and benchmarks.
"""

from __future__ import annotations

from cards.errors import CardError
from cards.layout import CARD_H, CARD_W, DPI, MIN_MODULE, QUIET
from cards.ndef import uri_record
from cards.qr import make_qr, qr_png, qr_version
from cards.render import check_card, check_qr, render_card

__all__ = [
    "CARD_H",
    "CARD_W",
    "DPI",
    "MIN_MODULE",
    "QUIET",
    "CardError",
    "check_card",
    "check_qr",
    "make_qr",
    "qr_png",
    "qr_version",
    "render_card",
    "uri_record",
]
