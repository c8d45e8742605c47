"""Passkey challenges, single-use on the server.

A ceremony's challenge is written to `webauthn_challenge` when the options are
sent, and the browser's session remembers which one it was given. Verifying
deletes the row, in one statement that only one request can win: a verify
request replayed with a copied cookie (which still names the challenge) finds
nothing and is refused, whatever the authenticator's sign count says.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime, timedelta

from flask import session
from sqlalchemy import delete

from tagservice import clock
from tagservice.store.db import begin_write, db
from tagservice.store.models import WebauthnChallenge

LIFETIME = timedelta(seconds=300)
PURPOSES = ("register", "signin", "confirm")


def _key(purpose: str) -> str:
    return f"webauthn_{purpose}"


def _digest(challenge: bytes) -> str:
    return hashlib.sha256(challenge).hexdigest()


def remember(
    purpose: str, challenge: bytes, clinician_id: int | None = None, now: datetime | None = None
) -> None:
    """Store a new challenge (and drop expired ones); the session names it. Commits."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown passkey ceremony {purpose!r}")
    now = now or clock.utcnow()
    begin_write()
    db.session.execute(
        delete(WebauthnChallenge).where(WebauthnChallenge.created_at < now - LIFETIME)
    )
    db.session.add(
        WebauthnChallenge(
            id=_digest(challenge), purpose=purpose, clinician_id=clinician_id, created_at=now
        )
    )
    db.session.commit()
    session[_key(purpose)] = base64.urlsafe_b64encode(challenge).decode()


def take(
    purpose: str, clinician_id: int | None = None, now: datetime | None = None
) -> bytes | None:
    """The challenge this browser was given for `purpose`, once, if unexpired; else None.

    For registration and confirmation it must also have been issued to `clinician_id`.
    """
    now = now or clock.utcnow()
    pending = session.pop(_key(purpose), None)
    if not isinstance(pending, str) or len(pending) > 200:
        return None
    try:
        challenge = base64.urlsafe_b64decode(pending)
    except ValueError:
        return None
    begin_write()
    used = db.session.execute(
        delete(WebauthnChallenge).where(
            WebauthnChallenge.id == _digest(challenge),
            WebauthnChallenge.purpose == purpose,
            WebauthnChallenge.created_at >= now - LIFETIME,
            (WebauthnChallenge.clinician_id == clinician_id)
            if clinician_id is not None
            else WebauthnChallenge.clinician_id.is_(None),
        )
    )
    db.session.commit()
    return challenge if used.rowcount == 1 else None
