"""A patient's own tags: issue (superseding or revoking older ones) and revoke.

Each change and its audit event are one transaction (`begin_write`, then the
tags functions with commit=False, then `record_event(commit=False)`, then one
commit), so there is never a tag without its "issued" event or a cancelled
card whose cancellation is not in the trail. The patient row is locked while a
tag is issued, so two clicks on "Make a new card" cannot both supersede the
same old tag.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import select

from tagservice import clock, crypto, keys, tag_digits
from tagservice.accounts import patients
from tagservice.audit import EventKind, record_event
from tagservice.store import tags
from tagservice.store.db import begin_write, db, locked_row
from tagservice.store.models import LinkedTag, Patient, Tag, TagStatus
from tagservice.summary import alerts, capacity
from tagservice.summary import model as summary_model

REVOKE_REASONS = {
    "lost": "Card lost or stolen",
    "wrong": "Details on the card are wrong",
    "other": "No longer wanted",
}
SUPERSEDED_REVOKE_REASON = "Replaced by a newer card; the owner asked for old cards to be refused"


@dataclass(frozen=True)
class Issued:
    tag: Tag
    url: str
    previous: str | None
    previous_revoked: bool


def _settings():
    return current_app.config["TAGSERVICE"]


def patient_tags(patient: Patient) -> list[Tag]:
    """Every tag this patient has had, newest first."""
    query = (
        select(Tag)
        .where(Tag.patient_id == patient.id)
        .order_by(Tag.issued_at.desc(), Tag.created_at.desc())
    )
    return list(db.session.scalars(query))


def current_tag(patient: Patient) -> Tag | None:
    """The newest tag, the one nothing has replaced (it may be revoked: a lost card)."""
    query = (
        select(Tag)
        .where(Tag.patient_id == patient.id, Tag.superseded_by.is_(None), _self_contained())
        .order_by(Tag.issued_at.desc())
        .limit(1)
    )
    return db.session.scalar(query)


def _self_contained():
    """Not a linked tag: a linked card lives beside printed cards, never replaced by them."""
    return Tag.tag_id.not_in(select(LinkedTag.tag_id))


def _still_opening(patient: Patient, *, but: str) -> list[Tag]:
    """This patient's tags that a scan still opens (active or superseded), except `but`."""
    query = select(Tag).where(
        Tag.patient_id == patient.id,
        Tag.tag_id != but,
        Tag.status.in_((TagStatus.ACTIVE.value, TagStatus.SUPERSEDED.value)),
        _self_contained(),
    ).order_by(Tag.issued_at, Tag.created_at)
    return list(db.session.scalars(query))


def first_name(name: str) -> str:
    """Only the first word of the name is printed on the card."""
    return (name.split() or [""])[0]


def issuer_name() -> str:
    return urlsplit(_settings().base_url).hostname or "Emergency Tag"


def issue(
    patient: Patient,
    summary: dict,
    *,
    refuse_superseded: bool,
    client: str | None,
    now: datetime | None = None,
    in_clear: dict | None = None,
    in_clear_choices: dict | None = None,
) -> Issued:
    """Seal `summary` into a new tag for this patient and register it.

    Raises SummaryError (invalid, or too long for the tag: the fields to shorten
    are named). The previous tag is superseded; when the patient asks that old
    cards be refused, every older card that still opens is revoked.
    """
    now = now or clock.utcnow()
    settings = _settings()
    meta = summary.get("meta") if isinstance(summary.get("meta"), dict) else {}
    summary = {**summary, "meta": {**meta, "issued": now.date().isoformat()}}
    valid = summary_model.validate(summary, today=now.date())
    capacity.check_fits(valid, settings.base_url)
    keyset = keys.load_keyset(settings)
    sealed = crypto.seal(valid, keyset, now)
    header = crypto.verify_tag(sealed, keyset)
    url = tag_digits.tag_url(settings.base_url, sealed)
    review = valid["meta"].get("review")
    tag_id = header.tag_id_hex

    begin_write()
    patient = locked_row(patient)
    old = current_tag(patient)
    tag = tags.register_tag(
        tag_id,
        header.issuer_kid.hex(),
        header.reader_kid.hex(),
        now,
        date.fromisoformat(review) if review else None,
        supersede=old.tag_id if old else None,
        patient_id=patient.id,
        commit=False,
    )
    common = {"actor": patient, "actor_type": "patient", "client": client, "commit": False}
    revoked: list[str] = []
    if refuse_superseded:
        # Every older card that still opens, not only the last: a patient who asks for
        # old cards to be refused means all of them (a card made three cards ago too).
        for older in _still_opening(patient, but=tag_id):
            tags.revoke_tag(older.tag_id, SUPERSEDED_REVOKE_REASON, now=now, commit=False)
            revoked.append(older.tag_id)
            record_event(
                EventKind.TAG_REVOKED, outcome="success", tag_id=older.tag_id, why="replaced",
                superseded_by=tag_id, **common,
            )  # fmt: skip
    elif old is not None and old.status not in (TagStatus.REVOKED, TagStatus.EXPIRED):
        record_event(
            EventKind.TAG_SUPERSEDED, outcome="success", tag_id=old.tag_id,
            superseded_by=tag_id, **common,
        )  # fmt: skip
    record_event(
        EventKind.TAG_ISSUED, outcome="success", tag_id=tag_id,
        supersedes=old.tag_id if old else None, **common,
    )  # fmt: skip
    patient.refuse_superseded = refuse_superseded
    patients.store_card(
        patient,
        {
            "url": url,
            "tag_id": tag_id,
            "first_name": first_name(valid["identity"]["name"]),
            "issued": valid["meta"]["issued"],
            "review": review,
            "critical": alerts.critical_alerts(valid),
            # what the patient chose to print in clear (tagservice.card_choices)
            "in_clear": in_clear or {},
            "in_clear_choices": in_clear_choices or {},
        },
    )
    db.session.commit()
    return Issued(tag, url, old.tag_id if old else None, old is not None and old.tag_id in revoked)


def revoke(patient: Patient, tag_id: str, reason: str, client: str | None) -> Tag:
    """Cancel one of this patient's tags at once; scanning it is then refused.

    Raises LookupError if the tag is not theirs (the same as not existing).
    """
    label = REVOKE_REASONS.get(reason)
    if label is None:
        raise ValueError("choose why the card is cancelled")
    begin_write()
    tag = tags.get_tag(tag_id)
    if tag is None or tag.patient_id != patient.id:
        db.session.rollback()
        raise LookupError("no such card")
    if tag.status != TagStatus.REVOKED:
        tags.revoke_tag(tag.tag_id, label, commit=False)
        record_event(
            EventKind.TAG_REVOKED, outcome="success", actor=patient, actor_type="patient",
            tag_id=tag.tag_id, why=reason, client=client, commit=False,
        )  # fmt: skip
    db.session.commit()
    return tag
