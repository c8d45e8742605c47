"""The A&E desk's exports: the opened summary on one A4 page, or as a FHIR IPS Bundle.

Who may export, the audit (committed before anything is decrypted again) and the
FHIR conversion are the rule in web/export_access.py, which the JSON API uses too;
this module turns the desk's form into it and renders the answer.
"""

from __future__ import annotations

import json

from flask import Blueprint, Flask, current_app, g, render_template, request

from tagservice import clock, crypto, unlock
from tagservice.summary import display as summary_view
from tagservice.views import invalid_page, refusal_page  # the scan pages' own
from tagservice.web import edge, export_access
from tagservice.web.auth import clinician_required
from tagservice.web.security import limiter

bp = Blueprint("desk_export", __name__)

FORMATS = export_access.FORMATS


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
        done = export_access.export(
            request.form.get("tag", ""), request.form.get("opened", ""), g.clinician, fmt
        )
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


def _fhir_download(done: export_access.Exported):
    bundle = export_access.fhir_bundle(done, g.clinician)
    if bundle is None:
        return render_template("scan/refused.html", message=export_access.NOT_FHIR), 422
    body = json.dumps(bundle, ensure_ascii=False, separators=(",", ":"))
    response = current_app.response_class(body, mimetype=export_access.FHIR_MIMETYPE)
    name = f"emergency-summary-{done.tag_id[:4]}-ips.json"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
