"""The tag format, version 2 ("linked"): a tiny card key in the QR, the summary on the server.

Pure: bytes, dicts and keys in; bytes and dicts out; no Flask, no database.
The card carries only a 128-bit card key, as a fixed 39-digit number after
`/L/`, so the URL fits a version 3 QR code with a numeric segment. The server
keeps the summary sealed under a key derived from BOTH the card key and a
server secret, signed by the issuer key. The steps are numbered as in
docs/tag-format.md section 9 (Issuing) and 10 (Verifying).

The tag id (printed on the card, stored, audited) is derived one-way from the
card key, so the server finds the record without ever storing the key.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass
from datetime import date, datetime

from cryptography.exceptions import InvalidSignature
from cryptography.exceptions import InvalidTag as _AeadFailure
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from tagservice import crypto
from tagservice.summary import compact
from tagservice.summary import model as summary_model

VERSION = 2
KEY_BYTES = 16
#: 2**128 - 1 has 39 decimal digits: every card key is written with exactly 39.
DIGITS = 39
ROUTE = "L"
NONCE_BYTES = 12
REVISION_BYTES = 4
#: version, flags, issuer kid, reader kid, tag id, dictionary id, revision: 23 bytes
HEADER_BYTES = 2 + 2 * crypto.KID_BYTES + crypto.TAG_ID_BYTES + 1 + REVISION_BYTES
#: The largest summary a linked tag holds, in compact encoding before deflate.
MAX_SUMMARY_BYTES = crypto.MAX_SUMMARY_BYTES
MAX_RECORD_BYTES = HEADER_BYTES + NONCE_BYTES + MAX_SUMMARY_BYTES + 16 + 64
MAX_REVISION = 2**32 - 1

_TAG_ID_INFO = b"tagservice/v2 tag id"
_LINK_SECRET_INFO = b"tagservice/v2 link secret"
_SUMMARY_KEY_INFO = b"tagservice/v2 summary key"
_DIGITS_RE = re.compile(f"[0-9]{{{DIGITS}}}")
_PATH_MARK = re.compile(r"/l/", re.IGNORECASE)
# a URL, never longer than this, is refused before it is searched
_MAX_TEXT_CHARS = 2048
# Bare digits shorter than this are a linked card key (39 digits, or a mistyped one);
# a v1 tag in its numeric spelling (tag_digits) is at least 132 bytes, over 300 digits.
_V1_MIN_DIGITS = 100


class UnknownLinkedTag(crypto.InvalidTag):
    message = (
        "This card is not known to this service (it may have been issued by another "
        "service, or its record was removed). Treat the patient as having no summary."
    )


@dataclass(frozen=True)
class LinkedHeader:
    """The public part of a stored record, bound into the AEAD and the signature."""

    version: int
    flags: int
    issuer_kid: bytes
    reader_kid: bytes
    tag_id: bytes
    dict_id: int
    revision: int

    def to_bytes(self) -> bytes:
        """v1's header layout (crypto.Header), then the revision."""
        v1_layout = crypto.Header(
            self.version, self.flags, self.issuer_kid, self.reader_kid, self.tag_id, self.dict_id
        )
        return v1_layout.to_bytes() + self.revision.to_bytes(REVISION_BYTES, "big")

    @classmethod
    def from_bytes(cls, data: bytes) -> LinkedHeader:
        if len(data) != HEADER_BYTES:
            raise crypto.MalformedTag()
        v1_layout = crypto.Header.from_bytes(data[:-REVISION_BYTES])
        return cls(
            **dataclasses.asdict(v1_layout),
            revision=int.from_bytes(data[-REVISION_BYTES:], "big"),
        )

    @property
    def tag_id_hex(self) -> str:
        return self.tag_id.hex()


@dataclass(frozen=True)
class SealedRecord:
    """What the server stores: header | nonce | ciphertext, and the issuer's signature."""

    body: bytes
    signature: bytes

    @property
    def header(self) -> LinkedHeader:
        return LinkedHeader.from_bytes(self.body[:HEADER_BYTES])


# ---------------------------------------------------------------- the card's text


def new_card_key() -> bytes:
    return os.urandom(KEY_BYTES)


def encode_payload(card_key: bytes) -> str:
    """The card key as exactly 39 ASCII digits (leading zeros kept)."""
    if len(card_key) != KEY_BYTES:
        raise ValueError("a card key is 16 bytes")
    return str(int.from_bytes(card_key, "big")).zfill(DIGITS)


def tag_url(base_url: str, card_key: bytes) -> str:
    """The URL printed in the QR code: upper-case prefix, then the 39 digits."""
    return f"{base_url.rstrip('/').upper()}/{ROUTE}/{encode_payload(card_key)}"


def is_linked(text: str) -> bool:
    """True when `text` is meant as a linked tag: a URL with `/L/`, or bare digits.

    Only routes the text; `decode_payload` then refuses every other spelling. A v1
    payload is base32, or digits (its numeric spelling) far longer than a card key.
    """
    if not isinstance(text, str):
        return False
    text = text.strip()
    return bool(_PATH_MARK.search(text[:_MAX_TEXT_CHARS])) or (
        bool(text) and len(text) < _V1_MIN_DIGITS and text.isdigit()
    )


def decode_payload(text: str) -> bytes:
    """Verifying step 1: the card key from a URL or bare digits, in its one spelling.

    Refused before any other work: not exactly 39 characters, anything but ASCII
    digits (a Unicode digit is not one), or a number past 2**128 - 1.
    """
    if not isinstance(text, str):
        raise TypeError("tag text must be str")
    if len(text) > _MAX_TEXT_CHARS:
        raise crypto.MalformedTag("This code is far too long to be an emergency tag.")
    text = text.strip()
    marks = _PATH_MARK.findall(text)
    if len(marks) > 1:
        raise crypto.MalformedTag()
    if marks:
        before, _, text = text.partition(marks[0])
        if "?" in before or "#" in before:
            raise crypto.MalformedTag()
    if len(text) < DIGITS and text.isascii() and text.isdigit():
        raise crypto.TruncatedTag()
    if not _DIGITS_RE.fullmatch(text):  # [0-9], not \d: ASCII digits only
        raise crypto.MalformedTag()
    value = int(text)
    if value >> (8 * KEY_BYTES):
        raise crypto.MalformedTag()
    return value.to_bytes(KEY_BYTES, "big")


# ---------------------------------------------------------------- keys


def _hkdf(ikm: bytes, info: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(ikm)


def tag_id_of(card_key: bytes) -> bytes:
    """The public tag id: one-way from the card key, so the key need never be stored."""
    if len(card_key) != KEY_BYTES:
        raise ValueError("a card key is 16 bytes")
    return _hkdf(card_key, _TAG_ID_INFO, crypto.TAG_ID_BYTES)


def link_secret(reader: X25519PrivateKey) -> bytes:
    """The server-held secret: derived from the reader private key under its own label.

    It lives (sealed under the KEK) and rotates with the reader key, and is never
    used for anything but this derivation.
    """
    raw = reader.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return _hkdf(raw, _LINK_SECRET_INFO, 32)


def summary_key(card_key: bytes, secret: bytes, tag_id: bytes) -> bytes:
    """The AES-256-GCM key of one card's summary: needs the card AND the server."""
    return _hkdf(secret + card_key, _SUMMARY_KEY_INFO + tag_id, 32)


# ---------------------------------------------------------------- issuing


def seal(
    summary: dict, card_key: bytes, keys: crypto.KeySet, now: datetime, revision: int = 1
) -> SealedRecord:
    """Seal `summary` for the card with `card_key` (section 9)."""
    return _seal(summary, card_key, keys, now, revision, nonce=os.urandom(NONCE_BYTES))


def _seal(
    summary: dict,
    card_key: bytes,
    keys: crypto.KeySet,
    now: datetime,
    revision: int,
    *,
    nonce: bytes,
) -> SealedRecord:
    """The deterministic part of issuing: tests fix the nonce through this seam."""
    if keys.signing is None or keys.sealing is None:
        raise ValueError("this key set has no active issuer and reader key to issue with")
    if not 1 <= revision <= MAX_REVISION or len(nonce) != NONCE_BYTES:
        raise ValueError("revision must be 1..2**32-1 and the nonce 12 bytes")
    # 1.-3. validate, compact encoding, deflate when it helps (as v1)
    data = summary_model.validate(crypto._with_issued(summary, now.date()))
    encoded = compact.encode(data)
    if len(encoded) > MAX_SUMMARY_BYTES:
        raise ValueError(f"a linked summary holds at most {MAX_SUMMARY_BYTES} bytes encoded")
    plaintext, flags, dict_id = crypto.compress(encoded)
    # 4. header: the tag id from the card key, the reader key whose secret is used
    issuer_kid, signer = keys.signing
    reader_kid, _ = keys.sealing
    tag_id = tag_id_of(card_key)
    header = LinkedHeader(VERSION, flags, issuer_kid, reader_kid, tag_id, dict_id, revision)
    header_bytes = header.to_bytes()
    # 5. summary key from card key + server secret; AES-256-GCM, header as AAD
    key = summary_key(card_key, link_secret(keys.reader(reader_kid)), tag_id)
    body = header_bytes + nonce + AESGCM(key).encrypt(nonce, plaintext, header_bytes)
    # 6. sign header | nonce | ciphertext
    return SealedRecord(body, signer.sign(body))


# ---------------------------------------------------------------- verifying


def verify_record(record: SealedRecord, keys: crypto.KeySet, tag_id: bytes) -> LinkedHeader:
    """Verifying steps 3-6: the stored record is ours, unaltered, and this card's."""
    body = record.body
    if len(body) < HEADER_BYTES + NONCE_BYTES + 16 + 1 or len(body) > MAX_RECORD_BYTES:
        raise crypto.MalformedTag()
    if body[0] != VERSION:
        raise crypto.UnsupportedVersion()
    issuer = keys.issuer(body[2 : 2 + crypto.KID_BYTES])
    try:
        issuer.verify(record.signature, body)
    except InvalidSignature:
        raise crypto.BadSignature() from None
    header = record.header
    if header.tag_id != tag_id:  # a signed record of another card, moved into this row
        raise crypto.BadSignature()
    deflated = bool(header.flags & crypto.FLAG_DEFLATED)
    if header.flags & ~crypto.FLAG_DEFLATED or deflated != (header.dict_id != 0) or (
        deflated and header.dict_id not in compact.DICTIONARIES
    ):
        raise crypto.MalformedTag()
    return header


def open_record(
    record: SealedRecord, card_key: bytes, keys: crypto.KeySet, now: datetime
) -> crypto.OpenedTag:
    """Verifying steps 3-10: verify, derive the summary key, decrypt, inflate, decode."""
    header = verify_record(record, keys, tag_id_of(card_key))
    # 7. the summary key needs the reader key's secret and the card key
    key = summary_key(card_key, link_secret(keys.reader(header.reader_kid)), header.tag_id)
    header_bytes = record.body[:HEADER_BYTES]
    nonce = record.body[HEADER_BYTES : HEADER_BYTES + NONCE_BYTES]
    try:
        plaintext = AESGCM(key).decrypt(nonce, record.body[HEADER_BYTES + NONCE_BYTES :],
                                        header_bytes)
    except _AeadFailure as e:
        raise crypto.DecryptionFailed() from e
    # 8.-10. inflate (capped), decode and validate, warnings against now (as v1)
    if header.flags & crypto.FLAG_DEFLATED:
        plaintext = crypto.inflate(plaintext, compact.DICTIONARIES[header.dict_id])
    try:
        summary = compact.decode(plaintext, today=date.today())
    except ValueError as e:
        raise crypto.InvalidSummary() from e
    return crypto.OpenedTag(header, summary, tuple(crypto._warnings(summary, now.date())))
