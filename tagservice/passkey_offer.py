"""After a password sign-in, offer a passkey: one touch next time instead of typing with gloves.

The offer is a flag in the new session, set only when the clinician has no passkey
yet. It shows on the pages they visit (GET pages only: dismissing must never take
them away from a summary) until they add a passkey or press "Not now".
"""

from __future__ import annotations

from flask import Blueprint, Flask, g, redirect, request, session

from .auth import clinician_required, default_landing, safe_next

bp = Blueprint("passkey_offer", __name__)
FLAG = "offer_passkey"


def offer_after_password_sign_in(clinician) -> None:
    """Call just after start_session: offer a passkey if the clinician has none."""
    if not clinician.passkeys:
        session[FLAG] = True


def _offer() -> dict:
    clinician = g.get("clinician")
    show = (
        session.get(FLAG) is True
        and clinician is not None
        and request.method == "GET"
        and not request.path.startswith("/passkeys/")
    )
    if show and clinician.passkeys:  # added one since: the offer has done its job
        session.pop(FLAG, None)
        show = False
    return {"passkey_offer": show, "passkey_offer_back": request.full_path.rstrip("?")}


@bp.post("/passkeys/offer/dismiss")
@clinician_required
def dismiss():
    """"Not now": the offer goes for this session; back to the page it was on."""
    session.pop(FLAG, None)
    return redirect(safe_next(request.form.get("next")) or default_landing())


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.context_processor(_offer)
