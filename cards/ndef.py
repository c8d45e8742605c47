"""An NFC Forum NDEF message holding the tag URL as one URI record, for NFC stickers.

Written to an NTAG sticker (NTAG213: 137 bytes, NTAG215: 496, NTAG216: 868
of NDEF space), a phone opens the URL on a tap, as it would on a scan. The
record is the NFC Forum URI Record Type Definition: a well-known record of
type "U" whose payload is one prefix code byte (0x04 for "https://") and
the rest of the URI in UTF-8. The scheme and host are written in lower case
(they are case-insensitive); the path is kept as it is.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from cards.errors import CardError

# URI identifier codes (NFC Forum URI RTD, table 3): the ones a tag URL can start with
PREFIXES = {0x01: "http://www.", 0x02: "https://www.", 0x03: "http://", 0x04: "https://"}
TNF_WELL_KNOWN = 0x01
MB, ME, SR = 0x80, 0x40, 0x10
STICKERS = (("NTAG213", 137), ("NTAG215", 496), ("NTAG216", 868))


def uri_record(url: str) -> bytes:
    """The NDEF message (one short or long URI record) for `url`."""
    if not isinstance(url, str) or not url.isascii() or not url.isprintable():
        raise CardError("the tag URL must be printable ASCII")
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise CardError("the tag URL must start with http:// or https:// and a host")
    rest = url[len(parts.scheme) + len("://") + len(parts.netloc) :]
    lowered = f"{parts.scheme.lower()}://{parts.netloc.lower()}{rest}"
    code = max(
        (c for c, prefix in PREFIXES.items() if lowered.startswith(prefix)),
        key=lambda c: len(PREFIXES[c]),
    )
    payload = bytes([code]) + lowered[len(PREFIXES[code]) :].encode("ascii")
    short = len(payload) < 256
    header = MB | ME | (SR if short else 0) | TNF_WELL_KNOWN
    length = len(payload).to_bytes(1 if short else 4, "big")
    return bytes([header, 1]) + length + b"U" + payload


def smallest_sticker(message: bytes) -> str | None:
    """The smallest common NTAG sticker whose NDEF space holds this message (with its TLV)."""
    # NDEF TLV: type byte, length (1 byte, or 0xFF and 2 bytes from 255), message, terminator
    tlv = 1 + (1 if len(message) < 255 else 3) + len(message) + 1
    return next((name for name, room in STICKERS if tlv <= room), None)
