"""The QR symbol for a tag URL: alphanumeric mode, chosen error correction."""

from __future__ import annotations

import io
import re

import segno
from segno import consts

# A linked (format v2) tag URL: upper-case prefix ending "/L/", then a 39-digit card key.
_LINKED_URL = re.compile(r"(.+/L/)([0-9]{39})")

DEFAULT_ERROR = "m"


def make_qr(url: str, error: str = DEFAULT_ERROR) -> segno.QRCode:
    """Encode the upper-case tag URL in QR alphanumeric mode (no boost of ECC level)."""
    if url != url.upper():
        raise ValueError("tag URLs are upper case so they fit QR alphanumeric mode")
    linked = _LINKED_URL.fullmatch(url)
    if linked:  # the card key in a numeric segment: 10 bits per 3 digits
        segments = [(linked[1], consts.MODE_ALPHANUMERIC), (linked[2], consts.MODE_NUMERIC)]
        return segno.make_qr(segments, error=error, boost_error=False)
    return segno.make_qr(url, error=error, mode="alphanumeric", boost_error=False)


def qr_version(url: str, error: str = DEFAULT_ERROR) -> int:
    return make_qr(url, error).version


def qr_png(url: str, scale: int = 8, error: str = DEFAULT_ERROR) -> bytes:
    out = io.BytesIO()
    make_qr(url, error).save(out, kind="png", scale=scale, border=4)
    return out.getvalue()
