"""Server-side sessions for clinicians and patients: signing out ends them for real.

The session cookie is signed but kept by the browser, so clearing it on sign-out
does nothing to a copy taken earlier. Each sign-in therefore gets a random id,
kept in the cookie, whose SHA-256 names a `web_session` row; signing out deletes
the row. A session is per browser: signing out on one phone leaves the others
signed in ("sign out everywhere" and suspension end them all).

The row is read in the same indexed query that loads the account on every
cookie request (a join on the primary key), so this costs no extra read; bearer
API requests carry no cookie and never touch it.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from flask import session
from sqlalchemy import delete, select, update

from tagservice import clock
from tagservice.store.db import begin_write, db
from tagservice.store.models import Clinician, Patient, WebSession

SID = "sid"
# A fresh proof of identity (sign-in or re-authentication) is needed for, and lasts:
FRESH_PROOF = timedelta(minutes=5)


def _digest(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


def current_sid() -> str | None:
    sid = session.get(SID)
    return sid if isinstance(sid, str) and 20 <= len(sid) <= 64 else None


def open_session(account: Clinician | Patient, *, hours: int, now: datetime | None = None) -> str:
    """Record a new session for `account` (and drop its expired ones); commit; return its id."""
    now = now or clock.utcnow()
    sid = secrets.token_urlsafe(32)
    owner = _owner_column(account)
    begin_write()
    db.session.execute(
        delete(WebSession).where(
            owner == account.id, WebSession.created_at < now - timedelta(hours=hours)
        )
    )
    row = WebSession(id=_digest(sid), created_at=now, proved_at=now)
    setattr(row, owner.key, account.id)
    db.session.add(row)
    db.session.commit()
    return sid


def signed_in(model: type[Clinician] | type[Patient], sid: str | None):
    """The account whose session `sid` still exists, else None: one indexed read."""
    if sid is None:
        return None
    owner = _owner_column(model)
    return db.session.scalar(
        select(model).join(WebSession, owner == model.id).where(WebSession.id == _digest(sid))
    )


def forget(sid: str | None) -> None:
    """Sign-out, inside the caller's write transaction: the row goes, and with it every
    copy of the cookie."""
    if sid is not None:
        db.session.execute(delete(WebSession).where(WebSession.id == _digest(sid)))


def end_all(account: Clinician | Patient, *, keep: str | None = None) -> None:
    """End every session of `account` but `keep` (inside the caller's write transaction)."""
    condition = _owner_column(account) == account.id
    if keep is not None:
        condition = condition & (WebSession.id != _digest(keep))
    db.session.execute(delete(WebSession).where(condition))


def proved_recently(sid: str | None, now: datetime | None = None) -> bool:
    """Did this session prove who it is (sign-in, re-authentication) within FRESH_PROOF?"""
    if sid is None:
        return False
    proved = db.session.scalar(select(WebSession.proved_at).where(WebSession.id == _digest(sid)))
    return proved is not None and (now or clock.utcnow()) - proved <= FRESH_PROOF


def mark_proved(sid: str, now: datetime | None = None) -> None:
    """A fresh proof was given in this session (inside the caller's write transaction)."""
    db.session.execute(
        update(WebSession)
        .where(WebSession.id == _digest(sid))
        .values(proved_at=now or clock.utcnow())
    )


def _owner_column(account):
    is_clinician = isinstance(account, Clinician) or account is Clinician
    return WebSession.clinician_id if is_clinician else WebSession.patient_id
