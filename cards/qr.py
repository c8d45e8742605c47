"""The QR symbol for a tag URL: alphanumeric prefix, numeric digits, chosen error correction."""

from __future__ import annotations

import io

import segno
from segno import consts

DEFAULT_ERROR = "m"


def segments(url: str) -> list[tuple[str, int]]:
    """QR segments for a tag URL: the upper-case text alphanumeric; a final path
    segment of decimal digits (a numeric tag payload) in numeric mode beside it."""
    if url != url.upper():
        raise ValueError("tag URLs are upper case so they fit QR alphanumeric mode")
    prefix, slash, last = url.rpartition("/")
    if slash and last.isascii() and last.isdigit():
        return [(prefix + slash, consts.MODE_ALPHANUMERIC), (last, consts.MODE_NUMERIC)]
    return [(url, consts.MODE_ALPHANUMERIC)]


def make_qr(url: str, error: str = DEFAULT_ERROR) -> segno.QRCode:
    """Encode the upper-case tag URL (no boost of ECC level)."""
    return segno.make_qr(segments(url), error=error, boost_error=False)


def qr_version(url: str, error: str = DEFAULT_ERROR) -> int:
    return make_qr(url, error).version


def qr_png(url: str, scale: int = 8, error: str = DEFAULT_ERROR) -> bytes:
    out = io.BytesIO()
    make_qr(url, error).save(out, kind="png", scale=scale, border=4)
    return out.getvalue()
