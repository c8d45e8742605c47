"""The rule for exporting a summary just opened, shared by the desk and the JSON API.

An export is a second disclosure (paper leaves the screen, a file enters the
hospital record), so it is audited as one (`tag.exported`) under the same rule
as an unlock: the event is committed first, and if that fails nothing is
decrypted. Only the clinician who has just opened this very tag with a reason
may export it: the request names the unlock's audit record, and that record must
be theirs, for this tag, a success, and recent (EXPORT_WINDOW). A receptionist
never has such a record, and is refused by role before it is looked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app

from tagservice import clock, crypto, keys, unlock
from tagservice.accounts import roles
from tagservice.audit import AuditWriteError, EventKind, record_event
from tagservice.fhir import export as fhir_export
from tagservice.store.db import db
from tagservice.store.models import AuditEvent
from tagservice.web import edge

#: How long after opening a summary the same clinician may print or export it.
EXPORT_WINDOW = timedelta(minutes=15)
#: The formats, as the audit trail names them.
FORMATS = {"print": "print", "fhir": "fhir-ips"}
FHIR_MIMETYPE = "application/fhir+json"
NOT_OPENED = (
    "Open the summary with a reason first (scan the card again); then print it or "
    "export it. An export is allowed for 15 minutes after you open it."
)
NOT_FHIR = "This summary cannot be written as a FHIR document. Print it instead."


@dataclass(frozen=True)
class Exported:
    summary: dict
    tag_id: str
    unlock_id: int
    export_id: int


def _unlock_event(unlock_id: str, clinician, tag_id: str, now: datetime) -> AuditEvent | None:
    """The clinician's own recent successful unlock of `tag_id` named by the form, or None."""
    if not isinstance(unlock_id, str) or not unlock_id.isascii() or not unlock_id.isdigit():
        return None
    if len(unlock_id) > 18:
        return None
    event = db.session.get(AuditEvent, int(unlock_id))
    if (
        event is None
        or event.kind != EventKind.TAG_UNLOCKED
        or event.outcome != "success"
        or event.actor_type != "clinician"
        or event.actor_id != str(clinician.id)
        or event.tag_id != tag_id
    ):
        return None
    opened_at = event.created_at.astimezone(UTC)
    return event if now - EXPORT_WINDOW <= opened_at <= now + timedelta(minutes=1) else None


def _denied(clinician, tag_id: str, fmt: str, why: str, message: str, status: int = 403):
    record_event(
        EventKind.TAG_EXPORTED,
        outcome="denied",
        actor=clinician,
        tag_id=tag_id,
        client=edge.client_label(),
        format=FORMATS[fmt],
        why=why,
    )
    return unlock.UnlockRefused(status, "export_refused", message)


def export(payload: str, unlock_id: str, clinician, fmt: str, now: datetime | None = None):
    """Check, audit (committed), then decrypt: the summary to print or export.

    Raises crypto.InvalidTag, unlock.UnlockRefused (refusals are audited).
    """
    now = now or clock.utcnow()
    keyset = keys.load_keyset(current_app.config["TAGSERVICE"])
    scanned = unlock.scan(payload, edge.client_label(), clinician, keyset)
    if not roles.opens_summaries(clinician.role):
        raise _denied(clinician, scanned.tag_id, fmt, "role", roles.CANNOT_OPEN)
    if not clinician.can_unlock(now.date()):
        raise _denied(clinician, scanned.tag_id, fmt, "registration", roles.NOT_PERMITTED)
    opened = _unlock_event(unlock_id, clinician, scanned.tag_id, now)
    if opened is None:
        raise _denied(clinician, scanned.tag_id, fmt, "not_opened", NOT_OPENED)
    try:
        event = record_event(
            EventKind.TAG_EXPORTED,
            outcome="success",
            actor=clinician,
            tag_id=scanned.tag_id,
            reason=opened.reason,
            client=edge.client_label(),
            format=FORMATS[fmt],
            after_audit_id=opened.id,
        )
    except AuditWriteError:
        raise unlock.UnlockRefused(
            503,
            "unavailable",
            "The service cannot record this export right now, so the summary cannot be "
            "printed or exported.",
        ) from None
    summary = crypto.open_verified(scanned.data, scanned.header, keyset, now).summary
    return Exported(summary, scanned.tag_id, opened.id, event.id)


def fhir_bundle(done: Exported, clinician) -> dict | None:
    """The FHIR IPS Bundle of an exported summary, or None (audited as an error) if the
    summary cannot be written as one. Nothing of the summary goes into the error."""
    try:
        return fhir_export.ips_from_summary(done.summary)
    except ValueError:
        record_event(
            EventKind.TAG_EXPORTED,
            outcome="error",
            actor=clinician,
            tag_id=done.tag_id,
            client=edge.client_label(),
            format=FORMATS["fhir"],
            after_audit_id=done.export_id,
        )
        return None
