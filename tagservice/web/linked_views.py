"""The scan page of a linked (format v2) tag: /L/<39 digits>. Thin: the rules are unlock.py's.

The URL is the card key, so it must not travel further than the request that
brought it: the sign-in redirect carries a short-lived resume token (the card
key sealed under a key derived from the app's secret key, with an expiry)
instead of the URL; the access log records no paths (docs/operations.md),
error logs redact `/L/` (errors.safe_path), the session stores nothing of it,
and every page is sent with `Referrer-Policy: no-referrer`.
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag as _AeadFailure
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import Blueprint, Flask, current_app, g, redirect, render_template, url_for

from tagservice import clock, crypto, linked, unlock, views
from tagservice.audit import AuditWriteError
from tagservice.web.security import limiter

bp = Blueprint("linked", __name__)

#: How long after a scan the clinician has to sign in and come back to the card.
RESUME_SECONDS = 15 * 60
_RESUME_INFO = b"tagservice/v2 resume token"
_EXPIRED = crypto.InvalidTag(
    "This link to the card has expired or is damaged. Scan the card again."
)


def _resume_key() -> AESGCM:
    secret = current_app.config["SECRET_KEY"]
    secret = secret.encode() if isinstance(secret, str) else bytes(secret)
    return AESGCM(
        HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_RESUME_INFO).derive(secret)
    )


def seal_resume(card_key: bytes, now: float | None = None) -> str:
    """The card key sealed for the sign-in round trip: useless without the server, short-lived."""
    expires = int((now or clock.utcnow().timestamp()) + RESUME_SECONDS).to_bytes(8, "big")
    nonce = os.urandom(12)
    sealed = expires + nonce + _resume_key().encrypt(nonce, card_key, expires)
    return base64.urlsafe_b64encode(sealed).decode("ascii").rstrip("=")


def open_resume(token: str, now: float | None = None) -> bytes | None:
    """The card key from a resume token, or None (damaged, forged or expired)."""
    if len(token) > 96:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        card_key = _resume_key().decrypt(raw[8:20], raw[20:], raw[:8])
    except (ValueError, _AeadFailure):
        return None
    if (
        int.from_bytes(raw[:8], "big") < (now or clock.utcnow().timestamp())
        or len(card_key) != linked.KEY_BYTES
    ):
        return None
    return card_key


def _scan_page(text: str):
    clinician = g.get("clinician")
    try:
        scanned = views.scan_audited(text)
    except crypto.InvalidTag as e:
        return views.invalid_page(e)
    except unlock.UnlockRefused as refused:
        return views.refusal_page(refused)
    except AuditWriteError:
        return render_template("errors/unavailable.html"), 503
    if clinician is None:
        token = seal_resume(scanned.data)
        return redirect(url_for("auth.signin", next=url_for("linked.resume", token=token)))
    return views.reason_page(scanned, linked.encode_payload(scanned.data))


@bp.get(f"/{linked.ROUTE}/<payload>")
@bp.get(f"/{linked.ROUTE.lower()}/<payload>")
@limiter.limit("120 per minute")
def scan(payload: str):
    """Step 1 for a linked card: verify the stored record and status, then ask why."""
    # the route says "linked": the strict decoder refuses any other spelling
    return _scan_page(f"/{linked.ROUTE}/{payload}")


@bp.get(f"/{linked.ROUTE}/resume/<token>")
@limiter.limit("120 per minute")
def resume(token: str):
    """Back from sign-in: the same card, without its key ever having been in a URL query."""
    card_key = open_resume(token)
    if card_key is None:
        return views.invalid_page(_EXPIRED)
    return _scan_page(linked.encode_payload(card_key))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
