"""The patient's linked tags (format v2): make one, and change the summary behind one.

A linked tag is tiny (a wristband or key ring) and always current, but needs
the service to open. Its code is the key to the summary, so the service shows
it once, when it is made, and never keeps it: to change the summary later the
patient proves they hold the card by pasting (or scanning) its address while
signed in to the account it was issued to. The summary comes from the same
editor (the saved draft).
"""

from __future__ import annotations

import base64

from flask import current_app, flash, g, redirect, render_template, request, url_for

import cards
from tagservice import clock, crypto, keys
from tagservice.accounts import patient_tags, patients
from tagservice.store import linked_tags
from tagservice.summary import model as summary_model
from tagservice.web import edge
from tagservice.web.portal import forms
from tagservice.web.portal.blueprint import bp, patient_required
from tagservice.web.security import limiter

LINKED_LIMIT = "20 per hour"
PRINT_QR_PIXELS = 160
MAX_CARD_TEXT = 2048


def _page(status: int = 200, **extra):
    page = render_template(
        "portal/linked.html",
        linked=linked_tags.patient_linked_tags(g.patient),
        describe=forms.describe_path,
        **extra,
    )
    return page, status


def _draft_or_redirect():
    draft = patients.load_draft(g.patient)
    if draft is None:
        flash("Enter your summary first.", "warning")
    return draft


def _refused(error: summary_model.SummaryError, draft: dict):
    checked = forms.Checked(draft)
    for e in error.errors:
        checked.errors.setdefault(e.path, []).append(e.message)
    return _page(400, refused=checked)


@bp.get("/linked")
@patient_required
def linked_cards():
    return _page()


@bp.post("/linked/issue")
@patient_required
@limiter.limit(LINKED_LIMIT)
def linked_issue():
    """Make a linked tag from the saved summary and show its code, this once."""
    draft = _draft_or_redirect()
    if draft is None:
        return redirect(url_for("portal.edit_summary"))
    settings = current_app.config["TAGSERVICE"]
    try:
        issued = linked_tags.issue(
            draft, keys.load_keyset(settings), settings.base_url, clock.utcnow(),
            patient=g.patient, actor_type="patient", client=edge.client_label(),
        )  # fmt: skip
    except summary_model.SummaryError as e:
        return _refused(e, draft)
    modules = cards.qr_version(issued.url) * 4 + 17 + 8
    scale = max(2, PRINT_QR_PIXELS // modules)
    qr = base64.b64encode(cards.qr_png(issued.url, scale=scale)).decode("ascii")
    return render_template(
        "portal/linked_made.html",
        tag_id=issued.tag_id,
        url=issued.url,
        qr=f"data:image/png;base64,{qr}",
        qr_size=modules * scale,
        first_name=patient_tags.first_name(draft.get("identity", {}).get("name", "")),
        issuer=patient_tags.issuer_name(),
    )


@bp.post("/linked/update")
@patient_required
@limiter.limit(LINKED_LIMIT)
def linked_update():
    """Put the saved summary behind a linked card the patient holds (same code, no reprint)."""
    text = request.form.get("card", "").strip()
    if not text or len(text) > MAX_CARD_TEXT:
        return _page(400, update_error="Paste or scan the address printed in your card's code.")
    draft = _draft_or_redirect()
    if draft is None:
        return redirect(url_for("portal.edit_summary"))
    settings = current_app.config["TAGSERVICE"]
    try:
        updated = linked_tags.update(
            text, draft, keys.load_keyset(settings), clock.utcnow(),
            patient=g.patient, actor_type="patient", client=edge.client_label(),
        )  # fmt: skip
    except crypto.InvalidTag as e:
        return _page(400, update_error=str(e))
    except linked_tags.UpdateRefused as e:
        return _page(403, update_error=str(e))
    except summary_model.SummaryError as e:
        return _refused(e, draft)
    flash(
        f"Card {updated.tag_id.upper()} now opens to your saved summary. "
        "Keep using the same card: nothing needs printing.",
        "success",
    )
    return redirect(url_for("portal.linked_cards"))
