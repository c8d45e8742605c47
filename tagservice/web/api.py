"""JSON API under /api/v1/: unlock, FHIR export, tag status, audit check, its OpenAPI document.

Bearer tokens come from POST /api/v1/session (tagservice.web.auth). Errors are
always {"error", "message"} with the HTTP codes the OpenAPI document lists.
"""

from __future__ import annotations

from flask import Blueprint, Flask, g, jsonify, request

from tagservice import crypto, unlock
from tagservice.store import tags
from tagservice.store.models import Role
from tagservice.summary import alerts
from tagservice.web import edge, export_access, openapi
from tagservice.web.auth import clinician_required
from tagservice.web.security import csrf, limiter

bp = Blueprint("api", __name__, url_prefix="/api/v1")

#: The largest body any API request needs: a tag URL is under 2 KB, a sign-in smaller.
#: (The app-wide limit is set for the portal's FHIR uploads.)
MAX_API_BODY = 64 * 1024


@bp.get("/openapi.json")
def openapi_document():
    return jsonify(openapi.document())


@bp.post("/unlock")
@clinician_required
@limiter.limit("60 per hour", key_func=edge.clinician_key)
def api_unlock():
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("tag"), str):
        return edge.json_error(
            400, "bad_request", 'Send JSON {"tag": "...", "reason": "999|ae|other"}.'
        )
    reason_text = body.get("reason_text") or ""
    if not isinstance(body.get("reason"), str) or not isinstance(reason_text, str):
        return edge.json_error(
            400, "bad_reason", "reason (999, ae or other) and reason_text are strings."
        )
    try:
        result = unlock.unlock(
            body["tag"],
            g.clinician,
            body["reason"],
            reason_text,
            override=body.get("override") is True,
            client=edge.client_address(),
        )
    except crypto.InvalidTag as e:
        return edge.json_error(400, "invalid_tag", str(e))
    except unlock.UnlockRefused as refused:
        return edge.json_error(refused.status, refused.error, refused.message)
    return jsonify(
        summary=result.summary,
        critical=alerts.critical_alerts(result.summary),
        # a summary nobody checked must say so wherever it is shown (hazard H13)
        verified=result.summary["meta"]["source"] == "clinician-verified",
        source=result.summary["meta"]["source"],
        warnings=list(result.warnings),
        tag={
            "id": result.scanned.tag_id,
            "status": result.scanned.status,
            "issued": result.summary["meta"]["issued"],
            "review": result.summary["meta"].get("review"),
            # the scan already read the register: no second query for it
            "registered": result.scanned.status != tags.UNKNOWN,
        },
        audit_id=result.audit_id,
        break_glass=result.break_glass,
    )


@bp.post("/export/fhir")
@clinician_required
# the desk's limit, per person: a department shares an address
@limiter.limit("60 per hour", key_func=edge.clinician_key)
def api_export_fhir():
    """The summary just opened (by this clinician, in the last 15 minutes) as a FHIR IPS
    Bundle, audited as tag.exported before it is decrypted again (web/export_access.py)."""
    body = request.get_json(silent=True)
    opened = body.get("opened_audit_id") if isinstance(body, dict) else None
    if type(opened) is int and 0 < opened < 10**18:
        opened = str(opened)
    if not isinstance(body, dict) or not isinstance(body.get("tag"), str) or (
        not isinstance(opened, str)
    ):
        return edge.json_error(
            400, "bad_request",
            'Send JSON {"tag": "...", "opened_audit_id": <the audit_id your unlock returned>}.',
        )  # fmt: skip
    try:
        done = export_access.export(body["tag"], opened, g.clinician, "fhir")
    except crypto.InvalidTag as e:
        return edge.json_error(400, "invalid_tag", str(e))
    except unlock.UnlockRefused as refused:
        return edge.json_error(refused.status, refused.error, refused.message)
    bundle = export_access.fhir_bundle(done, g.clinician)
    if bundle is None:
        return edge.json_error(422, "not_fhir", export_access.NOT_FHIR)
    return jsonify(
        bundle=bundle, tag_id=done.tag_id, audit_id=done.export_id, opened_audit_id=done.unlock_id
    )


@bp.get("/tags/<tag_id>")
@clinician_required
def tag_status(tag_id: str):
    """Status of a tag by id (the short id printed on the card), no decryption."""
    try:
        record = tags.get_tag(tag_id)
    except ValueError as e:
        return edge.json_error(400, "bad_request", str(e))
    if record is None:
        return edge.json_error(404, "not_found", "No tag with that id was issued here.")
    return jsonify(
        id=record.tag_id,
        status=record.status,
        issued=record.issued_at.date().isoformat(),
        review=record.review_date.isoformat() if record.review_date else None,
    )


@bp.get("/audit/verify")
@clinician_required
def audit_verify():
    from tagservice import audit

    if g.clinician.role != Role.ADMIN:
        return edge.json_error(403, "forbidden", "Only administrators can check the audit trail.")
    result = audit.verify_chain()
    return jsonify(
        ok=result.ok,
        count=result.count,
        first_broken_id=result.first_broken_id,
        message=result.message,
    )


def _limit_api_body() -> None:
    """Refuse an oversized API body with 413 before anything reads it."""
    if edge.is_api_request():  # also /api/v1/session, in the auth blueprint
        request.max_content_length = MAX_API_BODY


def init_app(app: Flask) -> None:
    csrf.exempt(bp)
    app.before_request(_limit_api_body)
    app.register_blueprint(bp)
