"""After a password sign-in, offer a passkey: one touch next time instead of typing with gloves.

The offer is a flag in the new session, set only when the clinician has no passkey
yet. It shows on the pages they visit (GET pages only: dismissing must never take
them away from a summary) until they open the add-a-passkey page or press "Not now".
The page hides it until static/builtin-passkey.js finds a built-in authenticator on the
device (`isUserVerifyingPlatformAuthenticatorAvailable`); elsewhere nothing shows and
the flag stays, so nothing is lost.
"""

from __future__ import annotations

from flask import Blueprint, Flask, g, redirect, request, session

from tagservice.web.auth import OFFER_PASSKEY as FLAG
from tagservice.web.auth import clinician_required, default_landing, safe_next

bp = Blueprint("passkey_offer", __name__)


def _offer() -> dict:
    """No query: the flag alone decides (pages load the clinician in one statement)."""
    show = (
        session.get(FLAG) is True
        and g.get("clinician") is not None
        and request.method == "GET"
        and not request.path.startswith("/passkeys/")
    )
    return {"passkey_offer": show, "passkey_offer_back": request.full_path.rstrip("?")}


def _taken_up() -> None:
    """Opening the add-a-passkey page is the offer taken up: it is not shown again."""
    if request.endpoint == "passkeys.new" and FLAG in session:
        session.pop(FLAG, None)


@bp.post("/passkeys/offer/dismiss")
@clinician_required
def dismiss():
    """Not now: the offer goes for this session; back to the page it was on."""
    session.pop(FLAG, None)
    return redirect(safe_next(request.form.get("next")) or default_landing())


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.context_processor(_offer)
    app.before_request(_taken_up)
