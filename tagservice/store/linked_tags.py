"""Linked tags on the server: issue, update, and reading a scan of either format.

The card key arrives with a scan or an update, lives in memory for that request
and is never stored, logged or audited: the database keeps the tag id (derived
one-way from the card key), the sealed summary and the issuer's signature.
Status (revoked, superseded, expired) is the `tag` row of the same id, so
tags.py, revocation and key retirement treat both formats alike.

Each change and its audit event are one transaction (`begin_write`, the change,
`record_event(commit=False)`, one commit), as in patient_tags.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select

from tagservice import crypto, linked
from tagservice.audit import EventKind, record_event
from tagservice.store import tags
from tagservice.store.db import begin_write, db
from tagservice.store.models import LinkedTag, Patient, Tag, TagStatus


class UpdateRefused(ValueError):
    """The summary behind this card cannot be replaced; the message says why, for people."""


@dataclass(frozen=True)
class IssuedLinked:
    tag_id: str
    url: str


@dataclass(frozen=True)
class Updated:
    tag_id: str
    revision: int


def _review(summary: dict) -> date | None:
    review = summary.get("meta", {}).get("review")
    return date.fromisoformat(review) if review else None


def issue(
    summary: dict,
    keyset: crypto.KeySet,
    base_url: str,
    now: datetime,
    *,
    patient: Patient | None = None,
    actor_type: str = "cli",
    client: str | None = None,
) -> IssuedLinked:
    """Make a new card key, seal `summary` for it, register it; return its id and URL.

    Raises SummaryError (invalid summary) or ValueError (too large for a linked tag).
    """
    card_key = linked.new_card_key()
    while tags.get_tag(linked.tag_id_of(card_key).hex()) is not None:  # 2**-64: never, but safe
        card_key = linked.new_card_key()
    sealed = linked.seal(summary, card_key, keyset, now)
    header = sealed.header
    tag_id = header.tag_id_hex
    begin_write()
    tags.register_tag(
        tag_id,
        header.issuer_kid.hex(),
        header.reader_kid.hex(),
        now,
        _review(summary),
        patient_id=patient.id if patient else None,
        commit=False,
    )
    db.session.add(_row(tag_id, sealed, now))
    record_event(
        EventKind.TAG_ISSUED, outcome="success", actor=patient, actor_type=actor_type,
        tag_id=tag_id, client=client, format="linked", revision=1, commit=False,
    )  # fmt: skip
    db.session.commit()
    return IssuedLinked(tag_id, linked.tag_url(base_url, card_key))


def patient_linked_tags(patient: Patient) -> list[Tag]:
    """This patient's linked cards, newest first."""
    query = (
        select(Tag)
        .join(LinkedTag, LinkedTag.tag_id == Tag.tag_id)
        .where(Tag.patient_id == patient.id)
        .order_by(Tag.issued_at.desc())
    )
    return list(db.session.scalars(query))


def _row(tag_id: str, sealed: linked.SealedRecord, now: datetime) -> LinkedTag:
    header = sealed.header
    return LinkedTag(
        tag_id=tag_id,
        record=sealed.body,
        signature=sealed.signature,
        issuer_kid=header.issuer_kid.hex(),
        reader_kid=header.reader_kid.hex(),
        revision=header.revision,
        updated_at=now,
    )


def update(
    text: str,
    summary: dict,
    keyset: crypto.KeySet,
    now: datetime,
    *,
    patient: Patient | None = None,
    actor_type: str = "cli",
    client: str | None = None,
) -> Updated:
    """Replace the summary behind the card whose URL is `text`; the URL stays the same.

    Possession of the card is proved by the current summary opening with its key.
    With `patient`, the card must also have been issued to that patient's account:
    a finder holding the card cannot change it. Audited as an update.
    Raises crypto.InvalidTag (not a readable linked card), UpdateRefused, or
    SummaryError / ValueError for the new summary.
    """
    card_key = linked.decode_payload(text)  # refused before any other work
    tag_id = linked.tag_id_of(card_key).hex()
    begin_write()
    try:
        row = db.session.get(LinkedTag, tag_id, with_for_update=True)
        tag = tags.get_tag(tag_id)
        if row is None or tag is None:
            raise linked.UnknownLinkedTag()
        if patient is not None and tag.patient_id != patient.id:
            raise UpdateRefused(
                "This card was not issued to your account, so you cannot change it."
            )
        if tag.status != TagStatus.ACTIVE:
            raise UpdateRefused(
                f"This card is {tag.status} and can no longer be changed. Make a new card instead."
            )
        linked.open_record(_sealed(row), card_key, keyset, now)  # proves the card, not its id
        sealed = linked.seal(summary, card_key, keyset, now, revision=row.revision + 1)
    except BaseException:
        db.session.rollback()
        raise
    fresh = _row(tag_id, sealed, now)
    for column in ("record", "signature", "issuer_kid", "reader_kid", "revision", "updated_at"):
        setattr(row, column, getattr(fresh, column))
    tag.issuer_kid, tag.reader_kid = fresh.issuer_kid, fresh.reader_kid
    tag.review_date = _review(summary)
    record_event(
        EventKind.TAG_UPDATED, outcome="success", actor=patient, actor_type=actor_type,
        tag_id=tag_id, client=client, format="linked", revision=fresh.revision, commit=False,
    )  # fmt: skip
    db.session.commit()
    return Updated(tag_id, fresh.revision)


def _sealed(row: LinkedTag) -> linked.SealedRecord:
    return linked.SealedRecord(bytes(row.record), bytes(row.signature))


def _stored(card_key: bytes) -> tuple[bytes, linked.SealedRecord]:
    tag_id = linked.tag_id_of(card_key)
    row = db.session.get(LinkedTag, tag_id.hex(), populate_existing=True)
    if row is None:
        raise linked.UnknownLinkedTag()
    return tag_id, _sealed(row)


# ---------------------------------------------------------------- scan and unlock, both formats


def read(text: str, keyset: crypto.KeySet) -> tuple[bytes, crypto.Header | linked.LinkedHeader]:
    """Verify a scanned tag of either format without decrypting: (data, header).

    For a linked tag `data` is the card key (kept in memory for this request only)
    and the header is the stored record's, whose signature has just been checked.
    """
    if not linked.is_linked(text):
        data = crypto.decode_payload(text)
        return data, crypto.verify_tag(data, keyset)
    card_key = linked.decode_payload(text)
    tag_id, record = _stored(card_key)
    return card_key, linked.verify_record(record, keyset, tag_id)


def open_scanned(
    data: bytes, header: crypto.Header | linked.LinkedHeader, keyset: crypto.KeySet, now: datetime
) -> crypto.OpenedTag:
    """Decrypt what `read` verified (call only after the audit event is committed).

    A linked record is read again and verified again: an update between the scan
    and the unlock shows the newest summary, never an unsigned one.
    """
    if isinstance(header, linked.LinkedHeader):
        _, record = _stored(data)
        return linked.open_record(record, data, keyset, now)
    return crypto.open_verified(data, header, keyset, now)


def payload_text(data: bytes, header: crypto.Header | linked.LinkedHeader) -> str:
    """The payload as the pages carry it to the unlock form."""
    if isinstance(header, linked.LinkedHeader):
        return linked.encode_payload(data)
    return crypto.encode_payload(data)
