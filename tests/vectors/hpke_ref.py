"""RFC 9180 HPKE base-mode seal with a chosen ephemeral key: the vectors' seam.

`cryptography`'s single-shot HPKE draws its ephemeral key itself, so a tag made
with it differs on every run. The vector script seals through this reference
instead (DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM; RFC 9180
sections 4.1, 5.1 and 5.2), with an ephemeral key derived from the vector's
description, so that regenerating the vectors gives the same bytes. The library
opens what it seals (the vector tests open every such tag), and the service never
imports it.
"""

from __future__ import annotations

import hashlib
import hmac

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_KEM_ID, _KDF_ID, _AEAD_ID = 0x0020, 0x0001, 0x0002
_KEM_SUITE = b"KEM" + _KEM_ID.to_bytes(2, "big")
_HPKE_SUITE = b"HPKE" + b"".join(i.to_bytes(2, "big") for i in (_KEM_ID, _KDF_ID, _AEAD_ID))
_MODE_BASE = b"\x00"


def _extract(salt: bytes, ikm: bytes) -> bytes:
    return hmac.new(salt or bytes(32), ikm, hashlib.sha256).digest()


def _expand(prk: bytes, info: bytes, length: int) -> bytes:
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out, counter = out + block, counter + 1
    return out[:length]


def _labeled_extract(suite: bytes, salt: bytes, label: bytes, ikm: bytes) -> bytes:
    return _extract(salt, b"HPKE-v1" + suite + label + ikm)


def _labeled_expand(suite: bytes, prk: bytes, label: bytes, info: bytes, length: int) -> bytes:
    return _expand(prk, length.to_bytes(2, "big") + b"HPKE-v1" + suite + label + info, length)


def _raw(public: X25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def ephemeral_for(*inputs: bytes) -> X25519PrivateKey:
    """An ephemeral key fixed by the inputs (test data only: a real seal never repeats one)."""
    digest = hashlib.sha256(b"tagservice test vector ephemeral key")
    for data in inputs:
        digest.update(len(data).to_bytes(4, "big") + data)
    return X25519PrivateKey.from_private_bytes(digest.digest())


class DeterministicSuite:
    """Stands in for crypto._SUITE while the vectors are made: same bytes on every run."""

    def __init__(self, real):
        self.real = real

    def encrypt(self, plaintext: bytes, public_key: X25519PublicKey, info: bytes = b"") -> bytes:
        ephemeral = ephemeral_for(_raw(public_key), info, plaintext)
        return seal_base(public_key, info, plaintext, ephemeral)

    def decrypt(self, ciphertext: bytes, private_key: X25519PrivateKey, info: bytes = b"") -> bytes:
        return self.real.decrypt(ciphertext, private_key, info=info)


def seal_base(
    recipient: X25519PublicKey, info: bytes, plaintext: bytes, ephemeral: X25519PrivateKey
) -> bytes:
    """enc || ct, exactly what cryptography's Suite.encrypt returns for this ephemeral key."""
    # DHKEM Encap (RFC 9180 section 4.1)
    enc, pk_r = _raw(ephemeral.public_key()), _raw(recipient)
    dh = ephemeral.exchange(recipient)
    eae_prk = _labeled_extract(_KEM_SUITE, b"", b"eae_prk", dh)
    shared = _labeled_expand(_KEM_SUITE, eae_prk, b"shared_secret", enc + pk_r, 32)
    # KeySchedule, base mode (section 5.1)
    psk_id_hash = _labeled_extract(_HPKE_SUITE, b"", b"psk_id_hash", b"")
    info_hash = _labeled_extract(_HPKE_SUITE, b"", b"info_hash", info)
    context = _MODE_BASE + psk_id_hash + info_hash
    secret = _labeled_extract(_HPKE_SUITE, shared, b"secret", b"")
    key = _labeled_expand(_HPKE_SUITE, secret, b"key", context, 32)
    base_nonce = _labeled_expand(_HPKE_SUITE, secret, b"base_nonce", context, 12)
    # the first (and only) message: sequence number 0, so the nonce is base_nonce (5.2)
    return enc + AESGCM(key).encrypt(base_nonce, plaintext, b"")
