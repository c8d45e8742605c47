"""The patient's access log: who opened their cards and why, in pages, newest first.

Anyone may point a camera at a card, so scans without sign-in are cheap to make
in bulk: 205 of them once pushed every "Opened and read" line out of a
200-line log. So they are counted per day ("12 scans without sign-in on
3 Dec 2026"), while every opening, refusal and change to a card is listed on
its own, and long logs page (older / newer) instead of dropping lines.

Pages use keyset cursors: each line has a key (its event id; a day's count
takes the id of that day's latest scan), and a page is the `PAGE_SIZE` lines
with keys below `before` (or above `after`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import and_, func, not_, select

from tagservice.audit import EventKind
from tagservice.store.db import db
from tagservice.store.models import AuditEvent, Clinician, Patient, Tag
from tagservice.unlock import REASONS
from tagservice.web import dates

PAGE_SIZE = 50
#: Events anyone can cause without signing in; counted per day, not listed one by one.
SIGNED_OUT_KINDS = (EventKind.TAG_SCANNED.value, EventKind.TAG_UNLOCK_DENIED.value)


@dataclass(frozen=True)
class Access:
    """One line of the patient's access log, in plain words."""

    key: int
    when: datetime
    tag_id: str
    what: str
    who: str | None
    reason: str | None
    flagged: bool


@dataclass(frozen=True)
class SignedOutScans:
    """How many scans without sign-in a day brought (nothing is shown by such a scan)."""

    key: int
    day: date
    count: int
    when: datetime

    @property
    def what(self) -> str:
        scans = "scan" if self.count == 1 else "scans"
        return f"{self.count} {scans} without sign-in on {dates.day(self.day)}"


@dataclass(frozen=True)
class AccessPage:
    lines: list[Access | SignedOutScans]
    older: int | None  # the `before` cursor of the next page back in time
    newer: int | None  # the `after` cursor of the page nearer now


_ROLE_WORDS = {"paramedic": "Paramedic", "doctor": "Doctor", "nurse": "Nurse",
               "admin": "Service administrator", "receptionist": "Receptionist"}  # fmt: skip
_OWN_EVENTS = {
    EventKind.TAG_ISSUED: "You made this card",
    EventKind.TAG_UPDATED: "The summary behind this card was changed (same card)",
    EventKind.TAG_SUPERSEDED: "Replaced by your newer card (it still opens, with a warning)",
    EventKind.TAG_REVOKED: "Cancelled: it can no longer be opened",
    EventKind.TAG_EXPIRED: "Expired: the service's keys changed",
}


def _signed_out():
    return and_(AuditEvent.actor_id.is_(None), AuditEvent.kind.in_(SIGNED_OUT_KINDS))


def _utc_day(column):
    """The UTC calendar day of a time column (SQLite stores naive UTC)."""
    if db.engine.dialect.name == "postgresql":
        return func.date(func.timezone("UTC", column))
    return func.date(column)


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _lines(tag_ids: list[str], where, newest_first: bool, limit: int):
    """Up to `limit` lines on one side of a cursor: listed events and daily counts, merged."""
    order = AuditEvent.id.desc() if newest_first else AuditEvent.id.asc()
    listed = db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.tag_id.in_(tag_ids), not_(_signed_out()), where(AuditEvent.id))
        .order_by(order)
        .limit(limit)
    ).all()
    day, last = _utc_day(AuditEvent.created_at), func.max(AuditEvent.id)
    days = db.session.execute(
        select(day, func.count(), last, func.max(AuditEvent.created_at))
        .where(AuditEvent.tag_id.in_(tag_ids), _signed_out())
        .group_by(day)
        .having(where(last))
        .order_by(last.desc() if newest_first else last.asc())
        .limit(limit)
    ).all()
    counted = [SignedOutScans(key, _as_date(d), n, when) for d, n, key, when in days]
    merged = sorted([*listed, *counted], key=lambda x: x.id if isinstance(x, AuditEvent) else x.key,
                    reverse=newest_first)  # fmt: skip
    return merged[:limit]


def _key(line) -> int:
    return line.id if isinstance(line, AuditEvent) else line.key


def page(patient: Patient, *, before: int | None = None, after: int | None = None,
         size: int = PAGE_SIZE) -> AccessPage:  # fmt: skip
    """Newest first: the latest lines, or those older than `before` or newer than `after`."""
    tag_ids = list(db.session.scalars(select(Tag.tag_id).where(Tag.patient_id == patient.id)))
    if not tag_ids:
        return AccessPage([], None, None)
    more_older = more_newer = None
    if after is not None:
        found = _lines(tag_ids, lambda key: key > after, newest_first=False, limit=size + 1)
        more_newer = len(found) > size
        found = found[:size][::-1]
    else:
        below = (lambda key: key < before) if before is not None else (lambda key: key > 0)
        found = _lines(tag_ids, below, newest_first=True, limit=size + 1)
        more_older = len(found) > size
        found = found[:size]
        if before is None:
            more_newer = False
    if not found:
        return AccessPage([], None, None)
    first, last = _key(found[0]), _key(found[-1])
    if more_newer is None:
        more_newer = bool(_lines(tag_ids, lambda key: key > first, newest_first=False, limit=1))
    if more_older is None:
        more_older = bool(_lines(tag_ids, lambda key: key < last, newest_first=True, limit=1))
    older, newer = (last if more_older else None), (first if more_newer else None)
    return AccessPage(_described(found), older, newer)


def _described(found: list) -> list[Access | SignedOutScans]:
    ids = {int(e.actor_id) for e in found if isinstance(e, AuditEvent)
           and e.actor_type in ("clinician", "admin") and (e.actor_id or "").isascii()
           and (e.actor_id or "").isdigit()}  # fmt: skip
    names = {}
    if ids:
        rows = db.session.execute(select(Clinician.id, Clinician.name).where(Clinician.id.in_(ids)))
        names = {str(i): name for i, name in rows}
    lines: list[Access | SignedOutScans] = []
    for item in found:
        if isinstance(item, SignedOutScans):
            lines.append(item)
            continue
        what, who = _describe(item, names)
        lines.append(Access(item.id, item.created_at, item.tag_id or "", what, who,
                            _reason(item), item.reason == "break-glass"))  # fmt: skip
    return lines


def _describe(event: AuditEvent, names: dict[str, str]) -> tuple[str, str | None]:
    who = None
    if event.actor_type in ("clinician", "admin") and event.actor_id:
        name = names.get(event.actor_id, "A clinician")
        parts = [_ROLE_WORDS.get(event.role or "", event.role or ""), event.organisation or ""]
        detail = ", ".join(p for p in parts if p)
        who = f"{name} ({detail})" if detail else name
    kind = event.kind
    if kind == EventKind.TAG_UNLOCKED:
        return "Opened and read", who
    if kind == EventKind.TAG_DECODED_BY_ADMIN:
        return "Read by the service's administrators", who or "An administrator"
    if kind == EventKind.TAG_UNLOCK_DENIED:
        return "Someone tried to open it and was refused", who
    if kind == EventKind.TAG_REJECTED:
        return "A scan failed; nothing was shown", who
    if kind == EventKind.TAG_SCANNED:
        return "Scanned", who
    if kind == EventKind.TAG_STATUS_LOOKED_UP:
        return "Checked whether this card is valid (nothing was read)", who
    if kind == EventKind.TAG_EXPORTED:
        return "Printed or saved to the hospital record, after opening it", who
    if kind == EventKind.TAG_ARRIVAL_RECORDED:
        return "Your arrival was recorded at reception (nothing was read)", who
    return _OWN_EVENTS.get(kind, kind), None


def _reason(event: AuditEvent) -> str | None:
    if event.reason is None:
        return None
    if event.reason == "break-glass":
        stated = _stated_reason(event)
        base = REASONS.get(stated, "Emergency") if stated else "Emergency"
        text = f"{base} (emergency access, checked by the service)"
    else:
        text = REASONS.get(event.reason, event.reason)
    return f"{text}: “{event.reason_text}”" if event.reason_text else text


def _stated_reason(event: AuditEvent) -> str | None:
    try:
        details = json.loads(event.details or "{}")
    except ValueError:
        return None
    value = details.get("stated_reason")
    return value if isinstance(value, str) else None
