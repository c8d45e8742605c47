"""The portal's one blueprint, and who is signed in on it: imported by every portal page.

A patient session is separate from a clinician's (see accounts.py); nothing here
sets `g.clinician`, so a patient can never reach /unlock or /desk.
"""

from __future__ import annotations

import functools

from flask import Blueprint, current_app, g, redirect, request, session, url_for

from tagservice import clock
from tagservice.accounts import sessions
from tagservice.store.models import Patient
from tagservice.web.auth import safe_next

bp = Blueprint("portal", __name__, url_prefix="/my")


@bp.before_request
def load_signed_in_patient() -> None:
    """Set g.patient; end a session signed out on the server, too old or from an old epoch.
    One indexed read: the account joined to its session row."""
    g.patient = None
    patient_id = session.get("patient_id")
    if patient_id is None or "clinician_id" in session:
        return
    patient = sessions.signed_in(Patient, sessions.current_sid())
    age = clock.utcnow().timestamp() - session.get("patient_signed_in_at", 0)
    hours = current_app.config["TAGSERVICE"].session_hours
    if (
        patient is None
        or patient.id != patient_id
        or session.get("patient_epoch") != patient.session_epoch
        or not -60 <= age <= hours * 3600
    ):
        session.clear()
        return
    g.patient = patient


def patient_required(view):
    """Redirect to the patient sign-in page, and come back afterwards."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if g.get("patient") is None:
            return redirect(url_for("portal.signin", next=_next_here()))
        return view(*args, **kwargs)

    return wrapped


def _next_here() -> str | None:
    return safe_next(request.path) if request.method == "GET" else None
