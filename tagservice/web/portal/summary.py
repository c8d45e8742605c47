"""The summary editor: edit in priority order, check capacity, import and export.

Every submit saves the draft (encrypted; valid or not, it is work in
progress) and shows what is wrong next to each field, with the capacity
meter. Without JavaScript the "Save and check" button does it all;
static/portal.js only asks /my/summary/meter for the meter as the patient types.
"""

from __future__ import annotations

import json
from datetime import date

from flask import current_app, g, jsonify, render_template, request

from tagservice import boundedjson
from tagservice.accounts import patients
from tagservice.fhir import export as fhir_export
from tagservice.fhir import importer as fhir
from tagservice.summary import alerts, fit
from tagservice.summary import model as summary_model
from tagservice.web import edge
from tagservice.web.portal import forms
from tagservice.web.portal.blueprint import bp, patient_required
from tagservice.web.security import limiter

MAX_UPLOAD_BYTES = boundedjson.IMPORT.max_bytes
METER_LIMIT = "120 per minute"
# Each import may cost a second of CPU (FHIR validation): per account and per client.
IMPORT_LIMIT_ACCOUNT = "10 per minute; 60 per hour"
IMPORT_LIMIT_CLIENT = "20 per minute; 120 per hour"
SELF_REPORTED_NOTE = (
    "Cards made here are marked as entered by you (not checked by a clinician), "
    "because you can change the details."
)


def _today() -> date:
    return date.today()


def _base_url() -> str:
    return current_app.config["TAGSERVICE"].base_url


def _editor(checked: forms.Checked | None, draft: dict, *, status: int = 200, **extra):
    blanks = {section: 1 for section in forms.LIST_SECTIONS}
    if extra.get("added"):
        blanks[extra["added"]] = 2
    page = render_template(
        "portal/editor.html",
        draft=draft,
        checked=checked,
        blanks=blanks,
        forms=forms,
        schema=summary_model,
        meter_text=forms.meter_text(checked) if checked else None,
        critical=alerts.critical_alerts(draft),
        **extra,
    )
    return page, status


def _action() -> tuple[str, str | None, int | None]:
    """("save" | "add" | "remove", section, row) from the button that was pressed."""
    kind, _, rest = request.form.get("action", "save").partition(":")
    section, _, row = rest.partition(":")
    if kind not in ("add", "remove") or section not in forms.LIST_SECTIONS:
        return "save", None, None
    return kind, section, forms.form_number(row)


@bp.get("/summary")
@patient_required
def edit_summary():
    draft = patients.load_draft(g.patient)
    if draft is None:
        return _editor(None, forms.empty_draft(_today()))
    return _editor(forms.check(draft, _base_url(), _today()), draft)


@bp.post("/summary")
@patient_required
def save_summary():
    kind, section, row = _action()
    remove = (section, row) if kind == "remove" and row is not None else None
    draft = forms.from_form(request.form, _today(), remove=remove)
    patients.save_draft(g.patient, draft)
    checked = forms.check(draft, _base_url(), _today())
    return _editor(checked, draft, saved=True, added=section if kind == "add" else None)


@bp.post("/summary/meter")
@patient_required
@limiter.limit(METER_LIMIT)
def meter():
    """The live meter and red lines: check what is in the form now, without saving it."""
    draft = forms.from_form(request.form, _today())
    answer = forms.meter_json(forms.check(draft, _base_url(), _today()))
    return jsonify(answer | {"critical": alerts.critical_alerts(draft)})


class _UploadRefused(Exception):
    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message, self.status = message, status


def _read_upload() -> dict:
    """The uploaded JSON object, read through boundedjson; raises _UploadRefused."""
    upload = request.files.get("bundle")
    if upload is None or not upload.filename:
        raise _UploadRefused("Choose a file to import.")
    raw = upload.stream.read(MAX_UPLOAD_BYTES + 1)
    if len(raw) > MAX_UPLOAD_BYTES:
        raise _UploadRefused("That file is too large (the limit is 2 MB).", 413)
    try:
        data = boundedjson.loads(raw, boundedjson.IMPORT)
    except boundedjson.TooLarge as e:
        message = f"That file cannot be imported: {e}. Nothing was changed."
        raise _UploadRefused(message, 413) from None
    except ValueError:
        raise _UploadRefused(
            "That file is not JSON. Choose a FHIR IPS Bundle (.json) file."
        ) from None
    if not isinstance(data, dict):
        raise _UploadRefused("That file does not hold a FHIR Bundle or a summary.")
    return data


@bp.post("/summary/import")
@patient_required
@limiter.limit(IMPORT_LIMIT_ACCOUNT, key_func=edge.patient_key)
@limiter.limit(IMPORT_LIMIT_CLIENT)
def import_summary():
    """Replace the draft with a FHIR IPS Bundle (or this service's own JSON export)."""
    if (request.content_length or 0) > MAX_UPLOAD_BYTES + 64 * 1024:
        return _import_error("That file is too large (the limit is 2 MB).", 413)
    try:
        data = _read_upload()
    except _UploadRefused as refused:
        return _import_error(refused.message, refused.status)
    warnings: list[str] = []
    proposal = None
    if fhir.is_fhir_bundle(data):
        try:
            summary, warnings = fhir.summary_from_ips(data, _today())
        except ValueError as e:  # FhirImportError: one readable line, no patient data
            return _import_error(f"This file could not be imported: {e}")
        summary, proposal = _fit_proposal(summary)
    elif "identity" in data:
        summary = data
    else:
        return _import_error("That file does not hold a FHIR Bundle or a summary.")
    was_verified = isinstance(summary.get("meta"), dict) and summary["meta"].get("verified_by")
    warnings = [w for w in warnings if "clinician-verified" not in w]
    if was_verified:
        warnings.append(SELF_REPORTED_NOTE)
    draft = forms.as_draft(summary, _today())
    patients.save_draft(g.patient, draft)
    checked = forms.check(draft, _base_url(), _today())
    return _editor(checked, draft, imported=True, import_warnings=warnings, proposal=proposal)


def _fit_proposal(summary: dict) -> tuple[dict, dict | None]:
    """The card the record fits into, and what the patient reviews: left off, shortened.

    If nothing can be fitted (the identity is invalid, or the critical facts alone
    are too big), the whole record goes into the editor with the reason, so
    nothing is lost and the patient sees what to fix.
    """
    try:
        fitted = fit.fit(summary, _base_url(), _today())
    except fit.FitRefused as e:
        return summary, {"refused": str(e)}
    except summary_model.SummaryError:
        return summary, None  # the editor shows each field to fix
    proposal = {"left_off": [n.removeprefix("not on the card: ") for n in fitted.notes
                             if n.startswith("not on the card: ")],
                "shortened": [s for s in fitted.shortened]}
    return fitted.summary, proposal if proposal["left_off"] or proposal["shortened"] else None


def _import_error(message: str, status: int = 400):
    draft = patients.load_draft(g.patient) or forms.empty_draft(_today())
    return _editor(None, draft, status=status, import_error=message)


def _valid_summary():
    """The draft as a validated summary, or the editor page saying what to fix."""
    draft = patients.load_draft(g.patient)
    if draft is None:
        message = "Enter your summary before you export it."
        return None, _editor(None, forms.empty_draft(_today()), status=409, page_error=message)
    checked = forms.check(draft, _base_url(), _today())
    if checked.summary is None:
        message = "Fix the problems below before you export your summary."
        return None, _editor(checked, draft, status=409, page_error=message)
    return checked.summary, None


def _download(data: dict, filename: str, mimetype: str):
    body = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    response = current_app.response_class(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.get("/summary/export.json")
@patient_required
def export_json():
    summary, page = _valid_summary()
    if summary is None:
        return page
    return _download(summary, "emergency-summary.json", "application/json")


@bp.get("/summary/export.fhir.json")
@patient_required
def export_fhir():
    summary, page = _valid_summary()
    if summary is None:
        return page
    bundle = fhir_export.ips_from_summary(summary)
    return _download(bundle, "emergency-summary-ips.json", "application/fhir+json")
