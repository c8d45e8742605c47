"""The tag format, version 1: seal and open signed, encrypted summary tags.

Pure: bytes, dicts and keys in; bytes and dicts out; no Flask, no database.
Every step is numbered as in docs/tag-format.md sections 5 (Issuing) and 6
(Verifying). Every failure is a subclass of InvalidTag whose message a person
can act on and which reveals nothing secret.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from cryptography.exceptions import InvalidSignature
from cryptography.exceptions import InvalidTag as _AeadFailure
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.hpke import AEAD, KDF, KEM, Suite

from tagservice import tag_digits
from tagservice.summary import compact
from tagservice.summary import model as summary_model
from tagservice.web import dates

VERSION = 1
FLAG_DEFLATED = 0x01
KID_BYTES = 4
TAG_ID_BYTES = 8
HEADER_BYTES = 1 + 1 + KID_BYTES + KID_BYTES + TAG_ID_BYTES + 1
ENC_BYTES = 32
AEAD_TAG_BYTES = 16
SIGNATURE_BYTES = 64
OVERHEAD_BYTES = HEADER_BYTES + ENC_BYTES + AEAD_TAG_BYTES + SIGNATURE_BYTES
MIN_TAG_BYTES = OVERHEAD_BYTES + 1
MAX_TAG_BYTES = 1024
MAX_SUMMARY_BYTES = 4096
HPKE_INFO = b"tagservice/v1"

_SUITE = Suite(KEM.X25519, KDF.HKDF_SHA256, AEAD.AES_256_GCM)
_B32_MAX_CHARS = -(-MAX_TAG_BYTES * 8 // 5)
# A whole URL: the longest payload plus room for scheme, host, port and "/T/".
_MAX_TEXT_CHARS = max(_B32_MAX_CHARS, tag_digits.MAX_DIGITS) + 1024
_B32_RE = re.compile(r"[A-Z2-7]+")
_PATH_MARK = re.compile(r"/t/", re.IGNORECASE)


class InvalidTag(ValueError):
    """Base class: this is not a tag this service can read."""

    message = "This is not a valid emergency tag."

    def __init__(self, message: str | None = None):
        super().__init__(message or self.message)


class MalformedTag(InvalidTag):
    message = "This code is damaged or is not an emergency tag. Try scanning it again."


class TruncatedTag(InvalidTag):
    message = "Only part of the tag was read. Scan the whole QR code again."


class UnsupportedVersion(InvalidTag):
    message = "This tag was made by a newer or unknown version of the service."


class UnknownKey(InvalidTag):
    message = "This tag was not issued by this service, or by a key it does not trust."


class RetiredKey(InvalidTag):
    message = "This card was made with a key that has been retired. Ask the owner for a new card."


class DestroyedKey(RetiredKey):
    message = (
        "This card's key was destroyed, so the card can never be opened again. "
        "Ask the owner to have it reissued."
    )


class BadSignature(InvalidTag):
    message = "This tag has been altered or was not issued by this service."


class DecryptionFailed(InvalidTag):
    message = "This tag could not be decrypted by this service."


class CorruptPayload(InvalidTag):
    message = "The tag's contents are corrupt."


class OversizePayload(InvalidTag):
    message = "The tag's contents are larger than any real summary; refused."


class InvalidSummary(InvalidTag):
    message = "The tag holds a summary this service cannot read."


@dataclass(frozen=True)
class KeySet:
    """The keys a process issues with and trusts; built by tagservice.keys.

    `issuers` and `readers` hold only non-retired keys; `retired` holds the ids
    of retired keys and `destroyed` those whose private key is gone for good, so
    that each is refused with its own reason.
    """

    issuers: Mapping[bytes, Ed25519PublicKey]
    readers: Mapping[bytes, X25519PrivateKey]
    signing: tuple[bytes, Ed25519PrivateKey] | None = None
    sealing: tuple[bytes, X25519PublicKey] | None = None
    retired: frozenset[bytes] = field(default_factory=frozenset)
    destroyed: frozenset[bytes] = field(default_factory=frozenset)

    @classmethod
    def from_private(cls, issuer: Ed25519PrivateKey, reader: X25519PrivateKey) -> KeySet:
        """One issuer and one reader key, both active (tests, tools, benchmarks)."""
        issuer_kid, reader_kid = kid_of(issuer.public_key()), kid_of(reader.public_key())
        return cls(
            issuers={issuer_kid: issuer.public_key()},
            readers={reader_kid: reader},
            signing=(issuer_kid, issuer),
            sealing=(reader_kid, reader.public_key()),
        )

    def issuer(self, kid: bytes) -> Ed25519PublicKey:
        return self._lookup(self.issuers, kid)

    def reader(self, kid: bytes) -> X25519PrivateKey:
        return self._lookup(self.readers, kid)

    def _lookup(self, table, kid):
        if kid in self.destroyed:
            raise DestroyedKey()
        if kid in self.retired:
            raise RetiredKey()
        try:
            return table[kid]
        except KeyError:
            raise UnknownKey() from None


@dataclass(frozen=True)
class Header:
    version: int
    flags: int
    issuer_kid: bytes
    reader_kid: bytes
    tag_id: bytes
    dict_id: int

    def to_bytes(self) -> bytes:
        return (
            bytes([self.version, self.flags])
            + self.issuer_kid
            + self.reader_kid
            + self.tag_id
            + bytes([self.dict_id])
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> Header:
        if len(data) != HEADER_BYTES:
            raise MalformedTag()
        return cls(
            version=data[0],
            flags=data[1],
            issuer_kid=data[2:6],
            reader_kid=data[6:10],
            tag_id=data[10:18],
            dict_id=data[18],
        )

    @property
    def tag_id_hex(self) -> str:
        return self.tag_id.hex()


@dataclass(frozen=True)
class OpenedTag:
    header: Header
    summary: dict
    warnings: tuple[str, ...]


def kid_of(public_key: Ed25519PublicKey | X25519PublicKey) -> bytes:
    """Key id: the first 4 bytes of SHA-256 over the raw public key."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).digest()[:KID_BYTES]


# ---------------------------------------------------------------- text form


def encode_payload(tag: bytes) -> str:
    return base64.b32encode(tag).decode("ascii").rstrip("=")


def tag_url(base_url: str, tag: bytes) -> str:
    """The upper-case URL printed in the QR code (section 1)."""
    return f"{base_url.rstrip('/').upper()}/T/{encode_payload(tag)}"


_B32_AS_INT_DIGITS = str.maketrans(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", "0123456789abcdefghijklmnopqrstuv"
)


def decode_payload(text: str) -> bytes:
    """Verifying steps 1-2: payload text (or a whole URL) to tag bytes, strictly."""
    if not isinstance(text, str):
        raise TypeError("tag text must be str")
    if len(text) > _MAX_TEXT_CHARS:  # refused before it is searched: huge input costs nothing
        raise MalformedTag("This code is far too long to be an emergency tag.")
    payload = _payload_of(text)
    if tag_digits.is_numeric(payload):  # the numeric spelling (section 1.1)
        try:
            return tag_digits.decode(payload)
        except ValueError:
            raise MalformedTag() from None
    if len(payload) > _B32_MAX_CHARS:
        raise MalformedTag("This code is far too long to be an emergency tag.")
    if not payload.isascii():  # "ſ".upper() is "S": only ASCII letters may have their case folded
        raise MalformedTag()
    payload = payload.upper()
    if not payload or not _B32_RE.fullmatch(payload) or len(payload) % 8 in (1, 3, 6):
        raise MalformedTag()
    # Base32 read as one big number, 5 bits a symbol, by mapping the RFC 4648 alphabet
    # onto int()'s base-32 digits: base64.b32decode loops in Python and costs far more.
    # The bits after the last whole byte must be 0, or the bytes have a second spelling.
    value = int(payload.translate(_B32_AS_INT_DIGITS), 32)
    length, spare_bits = divmod(5 * len(payload), 8)
    if value & ((1 << spare_bits) - 1):
        raise MalformedTag()
    return (value >> spare_bits).to_bytes(length, "big")


def _payload_of(text: str) -> str:
    """The text after the one `/T/` of a URL, or the whole text: a bare payload.

    A second `/T/`, or a `?` or `#` before it, means the mark is not the tag's path
    (`.../T/X/T/<payload>`, `https://host/?next=/T/<payload>`): refused, so that a tag
    has one URL spelling and no other text can carry it.
    """
    marks = _PATH_MARK.findall(text)
    if not marks:
        return text
    if len(marks) > 1:
        raise MalformedTag()
    before, _, payload = text.partition(marks[0])
    if "?" in before or "#" in before:
        raise MalformedTag()
    return payload


# ---------------------------------------------------------------- issuing


def seal(summary: dict, keys: KeySet, now: datetime) -> bytes:
    """Issue a tag for `summary` (docs/tag-format.md section 5)."""
    return _seal(summary, keys, now, tag_id=os.urandom(TAG_ID_BYTES))


def _seal(summary: dict, keys: KeySet, now: datetime, *, tag_id: bytes) -> bytes:
    """The deterministic part of issuing: tests fix `tag_id` through this seam."""
    if keys.signing is None or keys.sealing is None:
        raise ValueError("this key set has no active issuer and reader key to issue with")
    if len(tag_id) != TAG_ID_BYTES:
        raise ValueError("tag_id must be 8 bytes")
    # 1. validate; the issued date is the day the tag is made
    data = summary_model.validate(_with_issued(summary, now.date()))
    # 2. compact encoding
    encoded = compact.encode(data)
    # 3. deflate when it helps
    plaintext, flags, dict_id = compress(encoded)
    # 5.-7. header, HPKE seal, signature
    issuer_kid, _ = keys.signing
    reader_kid, _ = keys.sealing
    return _assemble(
        Header(VERSION, flags, issuer_kid, reader_kid, tag_id, dict_id), plaintext, keys
    )


def _assemble(header: Header, plaintext: bytes, keys: KeySet) -> bytes:
    """Issuing steps 5-7 for given header fields (also used to craft test vectors)."""
    header_bytes = header.to_bytes()
    # 6. HPKE seal, header bound through info
    sealed = _SUITE.encrypt(plaintext, keys.sealing[1], info=HPKE_INFO + header_bytes)
    # 7. sign header | enc | ct
    body = header_bytes + sealed
    return body + keys.signing[1].sign(body)


def compress(encoded: bytes) -> tuple[bytes, int, int]:
    """Issuing step 3: (plaintext, flags, dict_id), deflated only when smaller."""
    dict_id = compact.CURRENT_DICT_ID
    deflated = compact.deflate(encoded, dict_id)
    if len(deflated) < len(encoded):
        return deflated, FLAG_DEFLATED, dict_id
    return encoded, 0, 0


def _with_issued(summary: dict, issued: date) -> dict:
    if not isinstance(summary, dict):
        raise TypeError("summary must be a dict")
    meta = summary.get("meta")
    meta = dict(meta) if isinstance(meta, dict) else {}
    meta["issued"] = issued.isoformat()
    return {**summary, "meta": meta}


# ---------------------------------------------------------------- verifying


def verify_tag(tag: bytes | str, keys: KeySet) -> Header:
    """Verifying steps 1-7: authentic and well-formed, without decrypting."""
    data = decode_payload(tag) if isinstance(tag, str) else bytes(tag)
    # 3. length
    if len(data) < MIN_TAG_BYTES:
        raise TruncatedTag()
    if len(data) > MAX_TAG_BYTES:
        raise MalformedTag("This code is far too long to be an emergency tag.")
    # 4. version first
    if data[0] != VERSION:
        raise UnsupportedVersion()
    # 5. issuer key
    issuer = keys.issuer(data[2 : 2 + KID_BYTES])
    # 6. signature before anything else is parsed
    body, signature = data[:-SIGNATURE_BYTES], data[-SIGNATURE_BYTES:]
    try:
        issuer.verify(signature, body)
    except InvalidSignature:
        raise BadSignature() from None
    # 7. the rest of the header
    header = Header.from_bytes(data[:HEADER_BYTES])
    if header.flags & ~FLAG_DEFLATED:
        raise MalformedTag()
    deflated = bool(header.flags & FLAG_DEFLATED)
    if deflated != (header.dict_id != 0) or (
        deflated and header.dict_id not in compact.DICTIONARIES
    ):
        raise MalformedTag()
    return header


def open_tag(tag: bytes | str, keys: KeySet, now: datetime) -> OpenedTag:
    """Verifying steps 1-12: verify, decrypt, inflate, decode, validate."""
    data = decode_payload(tag) if isinstance(tag, str) else bytes(tag)
    return open_verified(data, verify_tag(data, keys), keys, now)


def open_verified(data: bytes, header: Header, keys: KeySet, now: datetime) -> OpenedTag:
    """Verifying steps 8-12, for tag bytes whose steps 1-7 `verify_tag` has just passed.

    The service verifies a tag once when it is scanned, checks its status and writes
    the audit event, and only then decrypts: this is the second half, without paying
    for the signature twice. `header` must be what verify_tag returned for `data`.
    """
    if header.to_bytes() != data[:HEADER_BYTES]:
        raise ValueError("header is not the verified header of these tag bytes")
    # 8. reader key
    reader = keys.reader(header.reader_kid)
    # 9. HPKE open
    sealed = data[HEADER_BYTES:-SIGNATURE_BYTES]
    try:
        plaintext = _SUITE.decrypt(sealed, reader, info=HPKE_INFO + data[:HEADER_BYTES])
    except (_AeadFailure, ValueError) as e:  # ValueError: a key the library refuses to use
        raise DecryptionFailed() from e
    # 10. inflate, capped (a stored payload is already bounded by MAX_TAG_BYTES)
    if header.flags & FLAG_DEFLATED:
        plaintext = inflate(plaintext, compact.DICTIONARIES[header.dict_id])
    # 11. decode and validate the summary (compact.decode validates it, once, against
    # the system date so that a date of birth in the future is refused)
    try:
        summary = compact.decode(plaintext, today=date.today())
    except ValueError as e:
        raise InvalidSummary() from e
    # 12. warnings against now
    return OpenedTag(header, summary, tuple(_warnings(summary, now.date())))


def inflate(data: bytes, zdict: bytes) -> bytes:
    """Verifying step 10: raw inflate with a hard cap on output (bomb guard)."""
    inflater = zlib.decompressobj(-15, zdict=zdict)
    try:
        out = inflater.decompress(data, MAX_SUMMARY_BYTES)
        if inflater.unconsumed_tail:
            raise OversizePayload()
        out += inflater.flush(MAX_SUMMARY_BYTES + 1 - len(out))
    except zlib.error as e:
        raise CorruptPayload() from e
    if len(out) > MAX_SUMMARY_BYTES:
        raise OversizePayload()
    if not inflater.eof or inflater.unused_data:
        raise CorruptPayload()
    return out


def _warnings(summary: dict, today: date) -> list[str]:
    meta = summary["meta"]
    warnings = []
    review = meta.get("review")
    if review and date.fromisoformat(review) < today:
        warnings.append(
            f"Past its review date ({dates.day(review)}): details may be out of date; "
            "confirm with the patient."
        )
    if date.fromisoformat(meta["issued"]) > today:
        warnings.append(
            "Issued with a date in the future: a clock is wrong; treat dates with care."
        )
    return warnings


def generate_keys() -> tuple[Ed25519PrivateKey, X25519PrivateKey]:
    """A fresh issuer (signing) and reader (decryption) key pair."""
    return Ed25519PrivateKey.generate(), X25519PrivateKey.generate()
