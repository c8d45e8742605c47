"""A clinician's own account security: confirming it is them, and removing passkeys.

"Confirm it is you" asks for the password and a code (or one of their passkeys)
again and marks the server-side session as freshly proved for a few minutes
(sessions.FRESH_PROOF): adding a passkey needs that, so a stolen session cookie
alone cannot plant a passkey that outlives a sign-out everywhere or a TOTP
reset. Removing a passkey needs only the session: someone who sees a passkey
they do not know must be able to remove it at once.
"""

from __future__ import annotations

import re

import webauthn
from flask import (
    Blueprint,
    Flask,
    abort,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from webauthn.helpers.structs import PublicKeyCredentialDescriptor, UserVerificationRequirement

from tagservice.accounts import clinicians, passkey_store, sessions, webauthn_challenges
from tagservice.accounts.clinicians import SignInError, Throttled
from tagservice.audit import EventKind
from tagservice.store.db import db
from tagservice.store.models import Passkey
from tagservice.web import edge
from tagservice.web.auth import SIGNIN_LIMIT, clinician_required, safe_next
from tagservice.web.passkeys import _options_response, _refuse, relying_party, verified_assertion
from tagservice.web.security import limiter

bp = Blueprint("account_security", __name__)


def _next() -> str:
    return safe_next(request.values.get("next")) or url_for("auth.account")


@bp.route("/account/confirm", methods=("GET", "POST"))
@clinician_required
@limiter.limit(SIGNIN_LIMIT, methods=["POST"])
def confirm():
    """Password and code again (or a passkey): a fresh proof for the next few minutes."""
    clinician = g.clinician
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        password = request.form.get("password", "")
        code = re.sub(r"\s", "", request.form.get("code", ""))
        if not password or not code:
            errors["form"], status = "Enter your password and the code from your app.", 400
        else:
            try:
                clinicians.reauthenticate(
                    clinician, password, code, edge.client_label(), sessions.current_sid()
                )
            except Throttled as e:
                errors["form"], status = e.message, 429
            except SignInError:
                errors["form"], status = "Password or code not recognised.", 401
            else:
                return redirect(_next())
    page = render_template(
        "auth/confirm.html",
        errors=errors,
        next_url=_next(),
        has_passkeys=bool(clinician.passkeys),
    )
    return page, status


@bp.post("/account/confirm/passkey/options")
@clinician_required
@limiter.limit(SIGNIN_LIMIT)
def confirm_passkey_options():
    clinician = g.clinician
    rp_id, _ = relying_party()
    options = webauthn.generate_authentication_options(
        rp_id=rp_id,
        allow_credentials=[
            PublicKeyCredentialDescriptor(id=p.credential_id) for p in clinician.passkeys
        ],
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    webauthn_challenges.remember("confirm", options.challenge, clinician.id)
    return _options_response(options)


@bp.post("/account/confirm/passkey/verify")
@clinician_required
@limiter.limit(SIGNIN_LIMIT)
def confirm_passkey_verify():
    """Another of the clinician's own passkeys is a fresh proof too."""
    clinician = g.clinician
    body = request.get_json(silent=True)
    challenge = webauthn_challenges.take("confirm", clinician.id)
    passkey, refused = verified_assertion(body, challenge)
    if refused is not None:
        return refused
    if passkey.clinician_id != clinician.id:
        db.session.rollback()
        return _refuse("another_clinicians_passkey", clinician)
    sessions.mark_proved(sessions.current_sid())
    clinicians.audit_account(
        EventKind.CLINICIAN_REAUTHENTICATED,
        clinician,
        actor=clinician,
        client=edge.client_label(),
        method="passkey",
    )
    target = safe_next(body.get("next")) or url_for("passkeys.new")
    return jsonify(ok=True, next=target)


@bp.post("/passkeys/<int:passkey_id>/remove")
@clinician_required
def remove_passkey(passkey_id: int):
    clinician = g.clinician
    passkey = db.session.get(Passkey, passkey_id)
    if passkey is None or passkey.clinician_id != clinician.id:
        abort(404)
    label = passkey_store.short_label(passkey.credential_id)
    passkey_store.remove(
        clinician, [passkey], actor=clinician, client=edge.client_label(), commit=True
    )
    flash(f"Passkey {label} removed. It can no longer sign you in.")
    return redirect(url_for("auth.account"))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
