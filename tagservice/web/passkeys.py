"""Passkeys (WebAuthn): the stronger, passwordless sign-in path.

A signed-in clinician registers a discoverable credential on their phone; from
then on "Sign in with a passkey" needs no email, password or code, and with
gloves on that matters. Adding one needs a fresh proof (password and code, or
another passkey, within sessions.FRESH_PROOF), so a stolen session cannot plant
a passkey of its own. Each ceremony's challenge is single-use on the server
(webauthn_challenges.py) and sign counts follow the WebAuthn rule. The relying
party id and origin come from settings.base_url, so a look-alike site gets
assertions it cannot replay here.

Password throttling does not apply to a passkey: it slows guessing, and a
passkey assertion cannot be guessed, so an attacker hammering the password form
must not keep a paramedic out at the kerbside. Failed assertions are audited
and rate-limited per address like password attempts.
"""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import urlsplit

import webauthn
from flask import (
    Blueprint,
    Flask,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import select
from webauthn.helpers.cose import COSEAlgorithmIdentifier
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from tagservice import clock
from tagservice.accounts import clinicians, passkey_store, sessions, webauthn_challenges
from tagservice.accounts.clinicians import SignInError
from tagservice.audit import EventKind, record_event
from tagservice.store.db import begin_write, db, locked_row
from tagservice.store.models import Clinician, Passkey
from tagservice.web import edge
from tagservice.web.auth import (
    SIGNIN_LIMIT,
    clinician_required,
    default_landing,
    safe_next,
    start_session,
)
from tagservice.web.security import limiter

bp = Blueprint("passkeys", __name__)

ALGORITHMS = [
    COSEAlgorithmIdentifier.ECDSA_SHA_256,
    COSEAlgorithmIdentifier.EDDSA,
    COSEAlgorithmIdentifier.RSASSA_PKCS1_v1_5_SHA_256,
]
FRESH_PROOF_NEEDED = "Confirm it is you first: sign in again with your password and code."


def relying_party() -> tuple[str, str]:
    """(rp_id, origin) from the public base URL. Browsers accept localhost, not 127.0.0.1."""
    parts = urlsplit(current_app.config["TAGSERVICE"].base_url)
    return parts.hostname or "localhost", f"{parts.scheme}://{parts.netloc}"


def user_handle(clinician: Clinician) -> bytes:
    """An opaque, stable handle: no email or name goes into the authenticator's user id."""
    return hashlib.sha256(f"tagservice/webauthn-user/{clinician.id}".encode()).digest()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _options_response(options):
    body = webauthn.options_to_json(options)
    return current_app.response_class(body, mimetype="application/json")


def proved_recently() -> bool:
    return sessions.proved_recently(sessions.current_sid())


@bp.get("/passkeys/new")
@clinician_required
def new():
    if not proved_recently():
        return redirect(url_for("account_security.confirm", next=url_for("passkeys.new")))
    return render_template("auth/passkey_new.html", passkey_count=len(g.clinician.passkeys))


@bp.post("/passkeys/register/options")
@clinician_required
def register_options():
    clinician = g.clinician
    if not proved_recently():
        return edge.json_error(403, "reauthentication_required", FRESH_PROOF_NEEDED)
    rp_id, _ = relying_party()
    options = webauthn.generate_registration_options(
        rp_id=rp_id,
        rp_name="tagservice",
        user_name=clinician.email,
        user_id=user_handle(clinician),
        user_display_name=clinician.name,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=[
            PublicKeyCredentialDescriptor(id=p.credential_id) for p in clinician.passkeys
        ],
        supported_pub_key_algs=ALGORITHMS,
    )
    webauthn_challenges.remember("register", options.challenge, clinician.id)
    return _options_response(options)


@bp.post("/passkeys/register/verify")
@clinician_required
def register_verify():
    clinician = g.clinician
    challenge = webauthn_challenges.take("register", clinician.id)
    if not proved_recently():
        return edge.json_error(403, "reauthentication_required", FRESH_PROOF_NEEDED)
    credential = request.get_json(silent=True)
    if challenge is None or not isinstance(credential, dict):
        return edge.json_error(400, "bad_request", "Start again: the passkey request has expired.")
    rp_id, origin = relying_party()
    try:
        verified = webauthn.verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp_id,
            expected_origin=origin,
            require_user_verification=True,
            supported_pub_key_algs=ALGORITHMS,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError):
        return edge.json_error(400, "bad_request", "This passkey could not be verified. Try again.")
    existing = db.session.scalar(
        select(Passkey).where(Passkey.credential_id == verified.credential_id)
    )
    if existing is not None:
        return edge.json_error(409, "conflict", "This passkey is already registered.")
    transports = credential["response"].get("transports")
    transports = (
        [t for t in transports if isinstance(t, str)] if isinstance(transports, list) else []
    )
    passkey = Passkey(
        clinician_id=clinician.id,
        credential_id=verified.credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        transports=",".join(transports)[:200] or None,
        created_at=clock.utcnow(),
    )
    begin_write()
    db.session.add(passkey)
    db.session.flush()
    clinicians.audit_account(
        EventKind.CLINICIAN_PASSKEY_ADDED,
        clinician,
        actor=clinician,
        client=edge.client_label(),
        passkey_id=passkey.id,
        credential=passkey_store.short_label(passkey.credential_id),
    )
    return jsonify(ok=True, next=default_landing())


@bp.post("/signin/passkey/options")
@limiter.limit(SIGNIN_LIMIT)
def signin_options():
    rp_id, _ = relying_party()
    options = webauthn.generate_authentication_options(
        rp_id=rp_id, user_verification=UserVerificationRequirement.REQUIRED
    )
    webauthn_challenges.remember("signin", options.challenge)
    return _options_response(options)


def _audit_failure(why: str, clinician: Clinician | None = None) -> None:
    record_event(
        EventKind.CLINICIAN_SIGNIN_FAILED,
        outcome="failed",
        actor=clinician,
        actor_type="clinician",
        client=edge.client_label(),
        method="passkey",
        why=why,
    )


def _refuse(why: str, clinician: Clinician | None = None):
    _audit_failure(why, clinician)
    return edge.json_error(401, "unauthorized", "This passkey was not accepted.")


def verified_assertion(body, challenge: bytes | None):
    """Check a signed assertion against `challenge`; return (passkey, None) with the
    passkey's sign count moved on (inside a write transaction), or (None, response)."""
    if challenge is None or not isinstance(body, dict):
        if challenge is None:  # expired, never issued, or used already: a replay is audited
            _audit_failure("challenge_expired_or_used")
        return None, edge.json_error(
            400, "bad_request", "Start again: the passkey request has expired."
        )
    credential = body.get("credential")
    response = credential.get("response") if isinstance(credential, dict) else None
    try:
        raw_id = _unb64url(credential["rawId"]) if isinstance(response, dict) else None
    except (KeyError, TypeError, ValueError):
        raw_id = None
    if raw_id is None:
        return None, edge.json_error(400, "bad_request", "That was not a passkey response.")
    passkey = db.session.scalar(select(Passkey).where(Passkey.credential_id == raw_id))
    if passkey is None:
        return None, _refuse("unknown_credential")
    clinician = passkey.clinician
    handle = response.get("userHandle")
    if handle and handle != _b64url(user_handle(clinician)):
        return None, _refuse("user_handle_mismatch", clinician)
    rp_id, origin = relying_party()
    try:
        verified = webauthn.verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp_id,
            expected_origin=origin,
            credential_public_key=passkey.public_key,
            credential_current_sign_count=passkey.sign_count,
            require_user_verification=True,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError):
        return None, _refuse("bad_assertion", clinician)
    begin_write()
    passkey = db.session.execute(
        select(Passkey)
        .where(Passkey.id == passkey.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()
    stored, new = passkey.sign_count, verified.new_sign_count
    # WebAuthn L3 6.1.1: if either count is non-zero the new one must be greater. An
    # authenticator that always says 0 is allowed; the single-use challenge stops replays.
    if (stored or new) and new <= stored:
        db.session.rollback()
        return None, _refuse("sign_count_replay", clinician)
    passkey.sign_count = new
    passkey.last_used_at = clock.utcnow()
    return passkey, None


@bp.post("/signin/passkey/verify")
@limiter.limit(SIGNIN_LIMIT)
def signin_verify():
    body = request.get_json(silent=True)
    challenge = webauthn_challenges.take("signin")
    passkey, refused = verified_assertion(body, challenge)
    if refused is not None:
        return refused
    now = clock.utcnow()
    clinician = passkey.clinician
    if clinicians.demo_refused(clinician):
        db.session.rollback()
        return _refuse("demo_account_in_production", clinician)
    try:
        clinician = clinicians.complete_sign_in(
            locked_row(clinician), now, edge.client_label(), "passkey"
        )
    except SignInError as e:
        return edge.json_error(403, "forbidden", e.message)
    start_session(clinician)
    return jsonify(ok=True, next=safe_next(body.get("next")) or default_landing())


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
