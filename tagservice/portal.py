"""The patient portal (/my): accounts, sessions and the dashboard.

A patient or carer signs up with an email and password (the email is not
verified here, and the page says so), may add a TOTP code, and then edits
their summary (portal_summary.py) and makes, prints and cancels cards
(portal_card.py); those modules add their routes to this blueprint.

A patient session is separate from a clinician's: it lives under its own keys
(`patient_id`, `patient_epoch`, `patient_signed_in_at`), signing in as either
clears the session first, and nothing here sets `g.clinician`, so a patient
can never reach /unlock or /desk. Like a clinician's, it is a row on the server
too (tagservice.sessions), so signing out ends every copy of the cookie.

Sign-up answers the same whether or not the email already has an account (and
never signs in): a stranger cannot use it to learn who has a card here.
"""

from __future__ import annotations

import functools
import re
import time

import segno
from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from . import patient_tags, patients, sessions
from .auth import SIGNIN_LIMIT, client_label, safe_next
from .keys import KeyStoreError
from .models import Patient
from .patients import PatientError
from .security import limiter
from .throttle import SignInError, Throttled

bp = Blueprint("portal", __name__, url_prefix="/my")

SIGNUP_LIMIT = "10 per hour"
PENDING_TOTP = "patient_totp_pending"
SIGNUP_EMAIL = "patient_signup_email"
SIGNED_UP = (
    "Thank you. If this email was new here, your account is ready: sign in with the "
    "password you just chose. If you already had an account with this email, nothing "
    "was changed: sign in with your existing password."
)


def start_session(patient: Patient) -> None:
    """Rotate the session at sign-in: nothing from before survives (a clinician's neither).

    The new session is recorded on the server, where signing out ends it.
    """
    hours = current_app.config["TAGSERVICE"].session_hours
    sid = sessions.open_session(patient, hours=hours)
    session.clear()
    session[sessions.SID] = sid
    session["patient_id"] = patient.id
    session["patient_epoch"] = patient.session_epoch
    session["patient_signed_in_at"] = int(time.time())
    session.permanent = True


@bp.before_request
def load_signed_in_patient() -> None:
    """Set g.patient; end a session signed out on the server, too old or from an old epoch.
    One indexed read: the account joined to its session row."""
    g.patient = None
    patient_id = session.get("patient_id")
    if patient_id is None or "clinician_id" in session:
        return
    patient = sessions.signed_in(Patient, sessions.current_sid())
    age = time.time() - session.get("patient_signed_in_at", 0)
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


def _portal_next(value: str | None) -> str | None:
    target = safe_next(value)
    return target if target and target.startswith("/my") else None


@bp.get("")
def home():
    if g.patient is None:
        return render_template("portal/welcome.html")
    draft = patients.load_draft(g.patient)
    return render_template(
        "portal/home.html",
        has_draft=draft is not None,
        tag=patient_tags.current_tag(g.patient),
        card=patients.load_card(g.patient),
    )


@bp.route("/signup", methods=("GET", "POST"))
@limiter.limit(SIGNUP_LIMIT, methods=["POST"])
def signup():
    form = {"email": request.form.get("email", "").strip()}
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            patients.sign_up(
                form["email"],
                request.form.get("password", ""),
                request.form.get("confirm", ""),
                client_label(),
            )
        except PatientError as e:
            errors[e.field] = e.message
        else:
            # The same answer for a new email and a taken one (see the module docstring).
            session[SIGNUP_EMAIL] = form["email"][:254]
            flash(SIGNED_UP)
            return redirect(url_for("portal.signin", next=url_for("portal.edit_summary")))
    status = 400 if errors else 200
    return render_template("portal/signup.html", form=form, errors=errors), status


@bp.route("/signin", methods=("GET", "POST"))
@limiter.limit(SIGNIN_LIMIT, methods=["POST"])
def signin():
    next_url = _portal_next(request.values.get("next"))
    if request.method == "GET" and g.patient is not None:
        return redirect(next_url or url_for("portal.home"))
    form = {"email": request.form.get("email", session.get(SIGNUP_EMAIL, "")).strip()}
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        password = request.form.get("password", "")
        if not form["email"]:
            errors["email"] = "Enter your email address."
        if not password:
            errors["password"] = "Enter your password."  # noqa: S105 - a message
        if not errors:
            code = re.sub(r"\s", "", request.form.get("code", ""))
            try:
                patient = patients.authenticate(form["email"], password, code, client_label())
            except Throttled as e:
                errors["form"], status = e.message, 429
            except SignInError as e:
                errors["form"], status = e.message, 401
            else:
                start_session(patient)
                return redirect(next_url or url_for("portal.home"))
        else:
            status = 400
    page = render_template("portal/signin.html", form=form, errors=errors, next_url=next_url)
    return page, status


@bp.post("/signout")
def signout():
    """End this session on the server too: a copy of the cookie opens nothing afterwards."""
    if g.patient is not None:
        patients.sign_out(g.patient, client_label(), sessions.current_sid())
    session.clear()
    flash("You are signed out.")
    return redirect(url_for("portal.signin"))


@bp.get("/account")
@patient_required
def account():
    return render_template("portal/account.html", totp_on=bool(g.patient.totp_secret_enc))


@bp.post("/account/everywhere")
@patient_required
def signout_everywhere():
    session["patient_epoch"] = patients.sign_out_everywhere(
        g.patient, client_label(), keep=sessions.current_sid()
    )
    flash("You are signed out on every other device.")
    return redirect(url_for("portal.account"))


def _qr_data_uri(text: str) -> str:
    return segno.make(text, error="m").png_data_uri(scale=5, border=4)


@bp.post("/account/totp")
@patient_required
def totp_start():
    """Show a new secret; it is saved only when the patient types a code it makes."""
    secret = patients.new_totp_secret()
    session[PENDING_TOTP] = patients.seal_pending_secret(g.patient, secret)
    return _totp_page(secret)


def _totp_page(secret: str, error: str | None = None, status: int = 200):
    uri = patients.otpauth_uri(g.patient, secret)
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    page = render_template(
        "portal/totp.html", qr=_qr_data_uri(uri), secret=grouped, uri=uri, error=error
    )
    return page, status


@bp.post("/account/totp/confirm")
@patient_required
def totp_confirm():
    token = session.get(PENDING_TOTP)
    if not token:
        flash("Start again: the set-up expired.", "warning")
        return redirect(url_for("portal.account"))
    try:
        secret = patients.open_pending_secret(g.patient, token)
    except KeyStoreError:
        session.pop(PENDING_TOTP, None)
        return redirect(url_for("portal.account"))
    try:
        patients.enable_totp(g.patient, secret, request.form.get("code", ""), client_label())
    except PatientError as e:
        return _totp_page(secret, e.message, 400)
    session.pop(PENDING_TOTP, None)
    flash("Two-step sign-in is on. You will need a code from your app each time.")
    return redirect(url_for("portal.account"))


@bp.post("/account/totp/off")
@patient_required
def totp_off():
    try:
        patients.disable_totp(g.patient, request.form.get("code", ""), client_label())
    except PatientError as e:
        page = render_template("portal/account.html", totp_on=True, error=e.message)
        return page, 400
    flash("Two-step sign-in is off.")
    return redirect(url_for("portal.account"))


def init_app(app: Flask) -> None:
    # The editor and card pages add their routes to `bp` when imported.
    from . import portal_card, portal_linked, portal_summary  # noqa: F401

    app.register_blueprint(bp)
