"""A clinician's passkeys as an account holder and an administrator see them.

Listing, removing and the history of adds and removals, shared by the account
page and `tagservice clinician passkeys`. The ceremonies themselves (adding,
signing in) are in passkeys.py. Every removal is audited; the history is read
back from the audit trail, so what the clinician sees is what was recorded.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from tagservice.accounts.events import audit_account
from tagservice.audit import EventKind
from tagservice.store.db import begin_write, db
from tagservice.store.models import AuditEvent, Clinician, Passkey

# How far back the account page looks for passkey events (they are rare).
HISTORY_SCAN = 5000
HISTORY_KINDS = (EventKind.CLINICIAN_PASSKEY_ADDED, EventKind.CLINICIAN_PASSKEY_REMOVED)
MIN_PREFIX = 6


def credential_label(credential_id: bytes) -> str:
    """The credential id as printed and typed: base64url without padding."""
    return base64.urlsafe_b64encode(credential_id).rstrip(b"=").decode()


def short_label(credential_id: bytes) -> str:
    """Enough of the id to tell passkeys apart on a page and in the audit trail."""
    return credential_label(credential_id)[:10]


def of(clinician: Clinician) -> list[Passkey]:
    return list(
        db.session.scalars(
            select(Passkey).where(Passkey.clinician_id == clinician.id).order_by(Passkey.id)
        )
    )


def find(clinician: Clinician, text: str) -> list[Passkey]:
    """The clinician's passkeys whose id is `text` or starts with it (at least 6 characters)."""
    text = (text or "").strip()
    if len(text) < MIN_PREFIX:
        return []
    return [p for p in of(clinician) if credential_label(p.credential_id).startswith(text)]


def remove(
    clinician: Clinician,
    passkeys: Iterable[Passkey],
    *,
    actor: Clinician | None,
    client: str | None,
    commit: bool = False,
) -> int:
    """Delete these passkeys of `clinician`, one audit event each. Returns how many.

    Joins the caller's write transaction (commit=False) or commits on its own.
    """
    begin_write()
    removed = 0
    for passkey in list(passkeys):
        if passkey.clinician_id != clinician.id:
            raise ValueError("that passkey belongs to another clinician")
        audit_account(
            EventKind.CLINICIAN_PASSKEY_REMOVED,
            clinician,
            actor=actor,
            client=client,
            passkey_id=passkey.id,
            credential=short_label(passkey.credential_id),
            commit=False,
        )
        db.session.delete(passkey)
        removed += 1
    db.session.flush()
    if commit:
        db.session.commit()
    return removed


@dataclass(frozen=True)
class HistoryEntry:
    when: datetime
    what: str  # "added" or "removed"
    credential: str
    by: str  # "you", "an administrator", "the command line"


_BY = {"clinician": "you", "admin": "an administrator", "cli": "an administrator (command line)"}


def history(clinician: Clinician, limit: int = 20) -> list[HistoryEntry]:
    """The latest passkey adds and removals on this account, newest first."""
    rows = db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.kind.in_([k.value for k in HISTORY_KINDS]))
        .order_by(AuditEvent.id.desc())
        .limit(HISTORY_SCAN)
    )
    entries = []
    for event in rows:
        details = json.loads(event.details or "{}")
        if details.get("clinician_id") != clinician.id:
            continue
        what = "added" if event.kind == EventKind.CLINICIAN_PASSKEY_ADDED else "removed"
        by = _BY.get(event.actor_type, event.actor_type)
        if event.actor_type == "clinician" and event.actor_id != str(clinician.id):
            by = "another clinician"
        entries.append(HistoryEntry(event.created_at, what, details.get("credential", "?"), by))
        if len(entries) >= limit:
            break
    return entries
