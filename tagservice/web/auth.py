"""Clinician sign-in: password + TOTP on one page, shift-long sessions, API tokens.

A paramedic scans a tag, lands here, signs in once and stays signed in on that
phone for a shift (settings.session_hours). Each session is also a row on the
server (tagservice.accounts.sessions): signing out deletes it, so a copy of the cookie
opens nothing afterwards; "sign out everywhere" deletes the others and revokes
API tokens. The JSON API never reads the session cookie: it takes only
`Authorization: Bearer`, so it needs no CSRF token.
"""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from tagservice import clock
from tagservice.accounts import clinicians, passkey_store, sessions
from tagservice.accounts.clinicians import DEMO_EMAIL, SignInError, Throttled
from tagservice.audit import EventKind
from tagservice.store import statements
from tagservice.store.db import begin_write, db, reading
from tagservice.store.models import ApiToken, Clinician, ClinicianStatus
from tagservice.unlock import REASONS
from tagservice.web import edge
from tagservice.web.security import csrf, limiter

bp = Blueprint("auth", __name__)
#: Session flag: offer a passkey after a password sign-in (shown by web/passkey_offer.py).
OFFER_PASSKEY = "offer_passkey"

SIGNIN_LIMIT = "10 per minute"
# Local paths only: no scheme, no "//host", no backslash or control characters
# (browsers read "/\evil" and "/<tab>/evil" as "//evil").
_LOCAL_PATH = re.compile(r"/(?![/\\])[A-Za-z0-9\-._~!$&'()*+,;=:@%/?]*")


def safe_next(target: str | None) -> str | None:
    """Return `target` if it is a path on this site, else None (no open redirect)."""
    if not isinstance(target, str) or len(target) > 2048 or "//" in target:
        return None
    return target if _LOCAL_PATH.fullmatch(target) else None


def plain_email(text: str) -> str:
    """The typed email, stripped; "" if it holds what no email can (NUL and other controls).

    An email with a NUL byte is not an account, and PostgreSQL would refuse to even
    look it up (a 503 instead of "not recognised").
    """
    text = text.strip()
    return text if text.isprintable() else ""


def _settings():
    return current_app.config["TAGSERVICE"]


def start_session(clinician: Clinician) -> None:
    """Rotate the session at sign-in: nothing from before survives, the CSRF token included.

    The new session is recorded on the server, where signing out ends it.
    """
    sid = sessions.open_session(clinician, hours=_settings().session_hours)
    session.clear()
    session[sessions.SID] = sid
    session["clinician_id"] = clinician.id
    session["epoch"] = clinician.session_epoch
    session["signed_in_at"] = int(clock.utcnow().timestamp())
    session.permanent = True


@bp.before_app_request
def load_signed_in_clinician() -> None:
    """Set g.clinician; end a session signed out on the server, too old, from an old
    epoch, or suspended. One indexed read: the account joined to its session row."""
    g.clinician = None
    clinician_id = session.get("clinician_id")
    if clinician_id is None or request.endpoint == "static":
        return
    clinician = sessions.signed_in(Clinician, sessions.current_sid())
    age = clock.utcnow().timestamp() - session.get("signed_in_at", 0)
    if (
        clinician is None
        or clinician.id != clinician_id
        or clinician.status != "active"
        or session.get("epoch") != clinician.session_epoch
        or not -60 <= age <= _settings().session_hours * 3600
        or clinicians.demo_refused(clinician)
    ):
        session.clear()
        return
    g.clinician = clinician


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_api_token(clinician: Clinician, *, now: datetime | None = None) -> tuple[str, datetime]:
    """A random bearer token for one shift; only its SHA-256 is stored."""
    now = now or clock.utcnow()
    token = secrets.token_urlsafe(32)
    expires = now + timedelta(hours=_settings().session_hours)
    begin_write()
    db.session.add(
        ApiToken(
            clinician_id=clinician.id,
            token_hash=token_hash(token),
            created_at=now,
            expires_at=expires,
            revoked=False,
        )
    )
    clinicians.audit_account(
        EventKind.CLINICIAN_TOKEN_CREATED,
        clinician,
        actor=clinician,
        client=edge.client_label(),
        expires=expires.isoformat(),
    )
    return token, expires


def bearer_clinician() -> BearerClinician | None:
    """The clinician named by a valid `Authorization: Bearer <token>` header, or None.

    The token must be unexpired and unrevoked and its clinician active; whether
    their registration lets them unlock is the caller's check (`can_unlock`).
    """
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 128:
        return None
    # In production the demo account's tokens open nothing (its password is public).
    refused_email = DEMO_EMAIL if _settings().production else ""
    with reading() as conn:
        rows = statements.BEARER_CLINICIAN.rows(
            conn,
            token_hash(token),
            False,
            clock.utcnow(),
            ClinicianStatus.ACTIVE.value,
            refused_email,
        )
    return BearerClinician(*rows[0]) if rows else None


@dataclass(frozen=True)
class BearerClinician:
    """What an API request knows of its clinician: a read-only snapshot, not a mapped
    object, so an API unlock never starts the ORM session. The rules are Clinician's."""

    id: int
    role: str
    register: str
    registration_number: str
    organisation: str
    registration_expires: date | None
    status: str

    registration = Clinician.registration
    can_unlock = Clinician.can_unlock


def clinician_required(view):
    """Pages: redirect to sign-in and come back. /api/: bearer token only, else 401 JSON."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if edge.is_api_request():
            g.clinician = bearer_clinician()
            if g.clinician is None:
                return edge.json_error(
                    401,
                    "unauthorized",
                    "Sign in with POST /api/v1/session and send Authorization: Bearer <token>.",
                    **{"WWW-Authenticate": "Bearer"},
                )
        elif g.get("clinician") is None:
            query = request.query_string.decode("latin-1")
            here = request.path + (f"?{query}" if query else "")
            return redirect(url_for("auth.signin", next=safe_next(here)))
        return view(*args, **kwargs)

    return wrapped


def default_landing() -> str:
    return url_for("auth.account")


# A tag URL in `next`: the sign-in page was reached from a scanned tag.
_TAG_PATH = re.compile(r"/[Tt]/[A-Za-z0-9]+")


@dataclass
class PasswordSignIn:
    """One password + code sign-in attempt: who signed in, or what to show on the form."""

    clinician: Clinician | None
    form: dict[str, str]
    errors: dict[str, str]
    status: int


def password_signin() -> PasswordSignIn:
    """Check the posted email, password and code; on success start the session.

    Shared by POST /signin and the tag URL's own sign-in (views.py), so both have
    the same checks, throttle, messages and audit. A failure keeps the email.
    """
    form = {"email": plain_email(request.form.get("email", ""))}
    errors: dict[str, str] = {}
    password = request.form.get("password", "")
    code = re.sub(r"\s", "", request.form.get("code", ""))
    if not form["email"]:
        errors["email"] = "Enter your work email."
    if not password:
        errors["password"] = "Enter your password."  # noqa: S105 - a message, not a secret
    if not code:
        errors["code"] = "Enter the 6-digit code from your authenticator app."
    if errors:
        return PasswordSignIn(None, form, errors, 400)
    try:
        clinician = clinicians.authenticate(form["email"], password, code, edge.client_label())
    except Throttled as e:
        return PasswordSignIn(None, form, {"form": e.message}, 429)
    except SignInError as e:
        return PasswordSignIn(None, form, {"form": e.message}, 401)
    start_session(clinician)
    if not clinician.passkeys:  # offered on the next pages (passkey_offer.py)
        session[OFFER_PASSKEY] = True
    return PasswordSignIn(clinician, form, {}, 200)


def signin_page(
    attempt: PasswordSignIn | None,
    next_url: str | None,
    *,
    tag_path: str | None = None,
    reason: str = "",
    reason_text: str = "",
):
    """The sign-in page. From a scanned tag (`tag_path`, the tag URL's path) it also asks
    why, and the form posts to the tag URL: one POST signs in and opens (views.py)."""
    attempt = attempt or PasswordSignIn(None, {"email": ""}, {}, 200)
    g.inline_css = True  # often the first page on a new phone: no round trip for the CSS
    return render_template(
        "auth/signin.html",
        form=attempt.form,
        errors=attempt.errors,
        next_url=next_url,
        throttled=attempt.status == 429,
        tag_path=tag_path,
        reasons=REASONS if tag_path else None,  # the same choices as the reason page
        # the tag URL opened by a phone camera is nearly always a 999 call
        checked_reason=reason if reason in REASONS else "999",
        reason_text=reason_text,
    ), attempt.status


@bp.route("/signin", methods=("GET", "POST"))
@limiter.limit(SIGNIN_LIMIT, methods=["POST"])
def signin():
    next_url = safe_next(request.values.get("next"))
    if request.method == "GET" and g.clinician is not None:
        return redirect(next_url or default_landing())
    attempt = None
    if request.method == "POST":
        attempt = password_signin()
        if attempt.clinician is not None:
            return redirect(next_url or default_landing())
    from_tag = next_url if next_url and _TAG_PATH.fullmatch(next_url) else None
    return signin_page(attempt, next_url, tag_path=from_tag)


@bp.post("/signout")
def signout():
    """End this session on the server too: a copy of the cookie opens nothing afterwards."""
    if g.clinician is not None:
        begin_write()
        sessions.forget(sessions.current_sid())
        clinicians.audit_account(
            EventKind.CLINICIAN_SIGNED_OUT,
            g.clinician,
            actor=g.clinician,
            client=edge.client_label(),
        )
    session.clear()
    return redirect(url_for("auth.signin"))


@bp.post("/signout/everywhere")
@clinician_required
def signout_everywhere():
    """End the sessions on every other device and revoke API tokens; keep this one."""
    session["epoch"] = clinicians.sign_out_everywhere(
        g.clinician, client=edge.client_label(), keep=sessions.current_sid()
    )
    flash("You are signed out on every other device.")
    return redirect(url_for("auth.account"))


@bp.get("/account")
@clinician_required
def account():
    """Who they are, their passkeys (with a remove button) and when passkeys came and went."""
    clinician = g.clinician
    today = clock.utcnow().date()
    return render_template(
        "auth/account.html",
        clinician=clinician,
        can_unlock=clinician.can_unlock(today),
        passkeys=passkey_store.of(clinician),
        passkey_history=passkey_store.history(clinician),
        passkey_label=passkey_store.short_label,
    )


@bp.post("/api/v1/session")
@limiter.limit(SIGNIN_LIMIT)
@csrf.exempt
def api_session():
    """Exchange email + password + TOTP for a bearer token that lasts one shift."""
    data = request.get_json(silent=True) if request.is_json else None
    fields = ("email", "password", "totp")
    if not isinstance(data, dict) or not all(isinstance(data.get(f), str) for f in fields):
        return edge.json_error(
            400, "bad_request", "Send JSON with email, password and totp strings."
        )
    try:
        clinician = clinicians.authenticate(
            plain_email(data["email"]), data["password"], data["totp"], edge.client_label()
        )
    except Throttled as e:
        return edge.json_error(429, "throttled", e.message, **{"Retry-After": str(e.retry_after)})
    except SignInError as e:
        return edge.json_error(401, "unauthorized", e.message)
    token, expires = issue_api_token(clinician)
    return jsonify(token=token, expires=expires.isoformat())


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
