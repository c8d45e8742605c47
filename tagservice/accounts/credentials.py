"""The two sign-in factors: argon2id password hashes and TOTP secrets.

Kept apart from the account rules in clinicians.py. A TOTP secret is stored
only encrypted under the key-encryption key, bound to its clinician by the
label, and a code's time-step counter is accepted once (replays refused).
"""

from __future__ import annotations

import hmac
import secrets
import unicodedata
from datetime import datetime

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app

from tagservice.keys import decrypt_at_rest, encrypt_at_rest, load_kek
from tagservice.store.models import Clinician

TOTP_ISSUER = "tagservice"
CODE_DIGITS = 6
MAX_CODE_CHARS = 32  # six digits and some spaces; anything longer is not a code


def _password_bytes(password: str) -> bytes:
    """UTF-8, with lone surrogates (JSON allows "\\ud800") kept rather than raising:
    such a password matches no hash, after the same work as any other."""
    return password.encode("utf-8", "surrogatepass")


def _hasher() -> PasswordHasher:
    """argon2id; tests pass cheap ARGON2_PARAMS, production keeps the library defaults."""
    return PasswordHasher(**current_app.config.get("ARGON2_PARAMS", {}))


def hash_password(password: str) -> str:
    return _hasher().hash(_password_bytes(password))


def generate_password() -> str:
    return secrets.token_urlsafe(18)


def verify_password(clinician: Clinician, password: str) -> bool:
    """Check the password; upgrade the stored hash when the parameters have changed."""
    hasher = _hasher()
    try:
        hasher.verify(clinician.password_hash, _password_bytes(password))
    except (VerificationError, InvalidHashError):
        return False
    if hasher.check_needs_rehash(clinician.password_hash):
        clinician.password_hash = hasher.hash(_password_bytes(password))
    return True


def spend_equal_time(password: str) -> None:
    """Verify against a dummy hash so an unknown email costs as long as a known one."""
    cache = current_app.extensions.setdefault("tagservice.dummy_hash", {})
    params = repr(sorted(current_app.config.get("ARGON2_PARAMS", {}).items()))
    if params not in cache:
        cache[params] = hash_password(secrets.token_hex(16))
    try:
        _hasher().verify(cache[params], _password_bytes(password))
    except (VerificationError, InvalidHashError):
        pass


def _totp_label(clinician: Clinician) -> str:
    return f"totp:{clinician.id}"


def _kek() -> bytes:
    return load_kek(current_app.config["TAGSERVICE"])


def set_totp_secret(clinician: Clinician, secret: str) -> None:
    clinician.totp_secret_enc = encrypt_at_rest(_kek(), secret.encode(), _totp_label(clinician))
    clinician.totp_last_counter = None


def _totp(clinician: Clinician) -> pyotp.TOTP:
    secret = decrypt_at_rest(_kek(), clinician.totp_secret_enc, _totp_label(clinician))
    return pyotp.TOTP(secret.decode(), digits=6, interval=30)


def otpauth_uri(clinician: Clinician) -> str:
    return _totp(clinician).provisioning_uri(name=clinician.email, issuer_name=TOTP_ISSUER)


def code_digits(code: object) -> str | None:
    """The six ASCII digits a person typed, or None if it is not six digits.

    Any script's decimal digits count ("１２３４５６" from a full-width keyboard is
    123456) and spaces are ignored; anything else is simply not a code, so an odd
    code is refused exactly like a wrong one, never with an error.
    """
    if not isinstance(code, str) or len(code) > MAX_CODE_CHARS:
        return None
    digits = []
    for char in code:
        if char.isspace():
            continue
        value = unicodedata.decimal(char, None)
        if value is None:
            return None
        digits.append(str(value))
    return "".join(digits) if len(digits) == CODE_DIGITS else None


def match_code(totp: pyotp.TOTP, code: object, now: datetime, last: int | None) -> int | None:
    """The counter of a code for now or one step either side, never `last` or before."""
    digits = code_digits(code)
    if digits is None:
        return None
    current = totp.timecode(now)
    matched = None
    for counter in (current - 1, current, current + 1):
        # compare every candidate so the time taken does not depend on which matched
        same = hmac.compare_digest(totp.generate_otp(counter).encode(), digits.encode())
        if same and (last is None or counter > last):
            matched = counter
    return matched


def match_totp(clinician: Clinician, code: object, now: datetime) -> int | None:
    """The counter of a clinician's code, never one used before.

    Nothing is stored here: the caller records the counter inside its write
    transaction, after checking again that no concurrent sign-in used it first.
    """
    if not clinician.totp_secret_enc:
        return None
    return match_code(_totp(clinician), code, now, clinician.totp_last_counter)


def unused_counter(clinician: Clinician, counter: int) -> bool:
    last = clinician.totp_last_counter
    return last is None or counter > last
