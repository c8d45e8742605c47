"""The numeric spelling of a tag: its bytes as one fixed-width decimal number.

A QR code packs decimal digits in numeric mode at 3.33 bits each, so n tag
bytes cost 8.0 bits a byte as digits against 8.8 as base32 in alphanumeric
mode: about 10 % fewer data bits, one QR version smaller for a typical
card. The URL keeps its upper-case prefix (`HTTPS://HOST/T/`) in an
alphanumeric segment and puts the digits in a numeric segment beside it.

One spelling per tag (docs/tag-format.md, section 1): n bytes are written as
exactly `digits_for(n)` digits (the width of 256**n - 1, leading zeros kept),
ASCII 0-9 only; any other digit count, or a number of 256**n or more, is
refused before any further work. Pure: no Flask, no keys.
"""

from __future__ import annotations

import math
import re

MAX_BYTES = 1024  # crypto.MAX_TAG_BYTES (tests check they agree)
_DIGITS = re.compile(r"[0-9]+")
_BASE32_DIGITS = frozenset("234567")
# digits_for(n) grows by 2 or 3 for each byte, so the width names the length.
_WIDTH = {n: len(str(256**n - 1)) for n in range(1, MAX_BYTES + 1)}
_LENGTH = {width: n for n, width in _WIDTH.items()}
MAX_DIGITS = _WIDTH[MAX_BYTES]


def digits_for(n: int) -> int:
    """How many digits spell an n-byte tag (past MAX_BYTES: for measuring only)."""
    return _WIDTH.get(n) or math.floor(8 * n * math.log10(2)) + 1


def is_numeric(payload: str) -> bool:
    """True for the numeric spelling: ASCII digits with at least one that base32 lacks
    (0, 1, 8, 9). Text of the digits 2-7 alone is base32, read as it always was; a v1
    tag's digits always begin with 00 (its first byte is 0x01)."""
    return payload.isascii() and payload.isdigit() and not set(payload) <= _BASE32_DIGITS


def encode(tag: bytes) -> str:
    """The tag bytes as exactly digits_for(len(tag)) decimal digits."""
    if not 1 <= len(tag) <= MAX_BYTES:
        raise ValueError(f"a tag is 1 to {MAX_BYTES} bytes")
    return str(int.from_bytes(tag, "big")).rjust(_WIDTH[len(tag)], "0")


def decode(text: str) -> bytes:
    """The bytes a numeric payload spells; ValueError unless it is their one spelling."""
    if len(text) > MAX_DIGITS or not text.isascii() or not _DIGITS.fullmatch(text):
        raise ValueError("not a numeric tag payload")
    length = _LENGTH.get(len(text))
    if length is None:
        raise ValueError("a numeric tag payload has a digit count no tag length has")
    value = int(text)
    if value >> (8 * length):
        raise ValueError("a numeric tag payload is larger than its byte length allows")
    return value.to_bytes(length, "big")


def tag_url(base_url: str, tag: bytes) -> str:
    """The URL printed in the QR code: upper-case `BASE/T/` then the digits."""
    digits = encode(tag)
    if not is_numeric(digits):  # only bytes that are no v1 tag
        raise ValueError("these bytes have no unambiguous numeric spelling")
    return f"{base_url.rstrip('/').upper()}/T/{digits}"
