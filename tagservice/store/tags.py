"""The storage side of tags: which ids were issued, and whether each still counts.

No cryptography here and no summary: a tag is known by its id and key ids,
which is enough to refuse a revoked card before anything is decrypted.

Status rules (a deliberate choice):

- A passed review date does NOT expire a tag. The facts on it may be stale, so
  the unlock page warns (`review_overdue`), but a paramedic at 3 a.m. is better
  served by a slightly old allergy list than by none.
- "expired" is only ever set explicitly, for example when the key a tag was
  issued or encrypted under is retired (`expire_tags_for_key`).
- "revoked" (the patient lost the card, or an admin withdrew it) wins over
  everything; "superseded" means a newer tag replaced this one, which still
  opens but says so.

Each function commits by default. To make a change and its audit event one
transaction: `db.begin_write()`, call with `commit=False`, then
`audit.record_event(...)`, which commits both.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func, select, update

from tagservice import clock
from tagservice.store import statements
from tagservice.store.db import db, reading
from tagservice.store.models import TAG_ID_RE, Tag, TagStatus

UNKNOWN = "unknown"


def _normalise(tag_id: str) -> str:
    tag_id = tag_id.strip().lower()
    if not TAG_ID_RE.fullmatch(tag_id):
        raise ValueError("a tag id is 16 hexadecimal characters")
    return tag_id


def _finish(commit: bool) -> None:
    if commit:
        db.session.commit()
    else:
        db.session.flush()


def get_tag(tag_id: str) -> Tag | None:
    return db.session.get(Tag, _normalise(tag_id))


def register_tag(
    tag_id: str,
    issuer_kid: str,
    reader_kid: str,
    issued_at: datetime,
    review_date: date | None,
    supersede: str | None = None,
    *,
    patient_id: int | None = None,
    commit: bool = True,
) -> Tag:
    """Record a newly issued tag; with `supersede`, mark the tag it replaces.

    Raises ValueError if the id is already registered, or the tag to supersede
    is unknown or already superseded by another tag.
    """
    tag_id = _normalise(tag_id)
    if issued_at.tzinfo is None:
        raise ValueError("issued_at must be timezone-aware (UTC)")
    if db.session.get(Tag, tag_id) is not None:
        raise ValueError(f"tag {tag_id} is already registered")
    old = None
    if supersede is not None:
        old = db.session.get(Tag, _normalise(supersede))
        if old is None:
            raise ValueError(f"cannot supersede unknown tag {supersede}")
        if old.superseded_by is not None:
            raise ValueError(f"tag {old.tag_id} was already superseded by {old.superseded_by}")
    tag = Tag(
        tag_id=tag_id,
        issuer_kid=issuer_kid,
        reader_kid=reader_kid,
        issued_at=issued_at,
        review_date=review_date,
        status=TagStatus.ACTIVE.value,
        patient_id=patient_id,
    )
    db.session.add(tag)
    if old is not None:
        old.superseded_by = tag_id
        if old.status == TagStatus.ACTIVE:  # a revoked or expired tag keeps that status
            old.status = TagStatus.SUPERSEDED.value
    _finish(commit)
    return tag


def tag_status(tag_id: str, today: date | None = None) -> str:
    """active, superseded, revoked, expired, or unknown (never issued here).

    `today` does not change the answer: review dates warn, they do not expire
    (see the module docstring). It is accepted so callers need not change if a
    date rule is ever added.
    """
    # One column, on the driver: this runs on every scan and unlock.
    with reading() as conn:
        rows = statements.TAG_STATUS.rows(conn, _normalise(tag_id))
    return rows[0][0] if rows else UNKNOWN


def review_overdue(tag: Tag, today: date) -> bool:
    """The patient should have reviewed the summary by now: show a warning."""
    return tag.review_date is not None and today > tag.review_date


def revoke_tag(
    tag_id: str, reason: str, *, now: datetime | None = None, commit: bool = True
) -> Tag:
    """Withdraw a tag for good (lost card, wrong details). Revoking twice is harmless."""
    reason = reason.strip()
    if not reason:
        raise ValueError("say why the tag is revoked")
    tag = get_tag(tag_id)
    if tag is None:
        raise LookupError(f"tag {tag_id} is not registered")
    if tag.status != TagStatus.REVOKED:
        tag.status = TagStatus.REVOKED.value
        tag.revoked_at = now or clock.utcnow()
        tag.revoke_reason = reason[:200]
    _finish(commit)
    return tag


def expire_tags_for_key(kid: str, *, commit: bool = True) -> int:
    """Mark active and superseded tags issued or encrypted under `kid` expired.

    Used when a key is retired: those tags can no longer be verified or read.
    Returns how many tags changed.
    """
    result = db.session.execute(
        update(Tag)
        .where((Tag.issuer_kid == kid) | (Tag.reader_kid == kid))
        .where(Tag.status.in_([TagStatus.ACTIVE.value, TagStatus.SUPERSEDED.value]))
        .values(status=TagStatus.EXPIRED.value)
        .execution_options(synchronize_session="fetch")
    )
    _finish(commit)
    return result.rowcount


def cards_depending_on_key(kid: str) -> int:
    """Cards issued or encrypted under `kid` that are neither reissued nor revoked.

    Their holders still carry them: while a key is only retired, an administrator can
    still bring it back; once it is destroyed, those cards can never open again.
    """
    return db.session.scalar(
        select(func.count())
        .select_from(Tag)
        .where((Tag.issuer_kid == kid) | (Tag.reader_kid == kid))
        .where(Tag.status != TagStatus.REVOKED.value)
        .where(Tag.superseded_by.is_(None))
    )
