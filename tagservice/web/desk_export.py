"""The A&E desk's exports: the opened summary on one A4 page, or as a FHIR IPS Bundle.

An export is a second disclosure (paper leaves the screen, a file enters the
hospital record), so it is audited as one (`tag.exported`) under the same rule
as an unlock: the event is committed first, and if that fails nothing is
decrypted. Only the clinician who has just opened this very tag with a reason
may export it: the form names the unlock's audit record, and that record must
be theirs, for this tag, a success, and recent (EXPORT_WINDOW). A receptionist
never has such a record, so never exports.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import Blueprint, Flask, current_app, g, render_template, request

from tagservice import clock, crypto, keys, unlock
from tagservice.accounts import roles
from tagservice.audit import AuditWriteError, EventKind, record_event
from tagservice.fhir import export as fhir_export
from tagservice.store.db import db
from tagservice.store.models import AuditEvent
from tagservice.summary import display as summary_view
from tagservice.views import invalid_page, refusal_page  # the scan pages' own
from tagservice.web import edge
from tagservice.web.auth import clinician_required
from tagservice.web.security import limiter

bp = Blueprint("desk_export", __name__)

#: How long after opening a summary the same clinician may print or export it.
EXPORT_WINDOW = timedelta(minutes=15)
FORMATS = {"print": "print", "fhir": "fhir-ips"}
FHIR_MIMETYPE = "application/fhir+json"
NOT_OPENED = (
    "Open the summary with a reason first (scan the card again); then print it or "
    "export it. An export is allowed for 15 minutes after you open it."
)


@dataclass(frozen=True)
class Exported:
    summary: dict
    tag_id: str
    unlock_id: int
    export_id: int


def _unlock_event(unlock_id: str, clinician, tag_id: str, now: datetime) -> AuditEvent | None:
    """The clinician's own recent successful unlock of `tag_id` named by the form, or None."""
    if not unlock_id.isdigit() or len(unlock_id) > 18:
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


@bp.post("/desk/export")
@clinician_required
# per person: a department shares an address
@limiter.limit("60 per hour", key_func=edge.clinician_key)
def desk_export():
    """Print view (one A4 page) or FHIR IPS download of the summary just opened."""
    fmt = request.form.get("as", "")
    if fmt not in FORMATS:
        return render_template("scan/refused.html", message="Choose Print or Export."), 400
    try:
        done = export(request.form.get("tag", ""), request.form.get("opened", ""), g.clinician, fmt)
    except crypto.InvalidTag as e:
        return invalid_page(e)
    except unlock.UnlockRefused as refused:
        return refusal_page(refused)
    if fmt == "fhir":
        return _fhir_download(done)
    return render_template(
        "scan/desk_print.html",
        view=summary_view.build(done.summary),
        tag_id=done.tag_id,
        opened_id=done.unlock_id,
        export_id=done.export_id,
        clinician=g.clinician,
        printed_at=clock.utcnow(),
    )


def _fhir_download(done: Exported):
    try:
        bundle = fhir_export.ips_from_summary(done.summary)
    except ValueError:  # never echo the value: it is clinical content
        record_event(
            EventKind.TAG_EXPORTED,
            outcome="error",
            actor=g.clinician,
            tag_id=done.tag_id,
            client=edge.client_label(),
            format=FORMATS["fhir"],
            after_audit_id=done.export_id,
        )
        message = "This summary cannot be written as a FHIR document. Print it instead."
        return render_template("scan/refused.html", message=message), 422
    body = json.dumps(bundle, ensure_ascii=False, separators=(",", ":"))
    response = current_app.response_class(body, mimetype=FHIR_MIMETYPE)
    name = f"emergency-summary-{done.tag_id[:4]}-ips.json"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
