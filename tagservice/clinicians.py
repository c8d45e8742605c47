"""Clinician accounts: registration numbers, suspension, sign-in and lockout.

No views here. The web sign-in, the API and the CLI all call these functions,
so the rules (what a valid HCPC number looks like, when an account locks, that
a TOTP code is accepted once) live in one place and are tested without HTTP.
Every change to an account is written to the audit trail.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pyotp
from flask import current_app
from sqlalchemy import select, update

from . import credentials
from .audit import EventKind, record_event
from .db import begin_write, db
from .models import ApiToken, Clinician

ROLES = ("paramedic", "doctor", "nurse", "admin")
# Which register each clinical role must be on; an admin may hold any.
ROLE_REGISTER = {"paramedic": "HCPC", "doctor": "GMC", "nurse": "NMC"}
REGISTERS = {
    "HCPC": (re.compile(r"PA\d{5,6}"), "an HCPC paramedic number is PA followed by 5 or 6 digits"),
    "GMC": (re.compile(r"\d{7}"), "a GMC number is exactly 7 digits"),
    "NMC": (
        re.compile(r"\d{2}[A-Z]\d{4}[A-Z]"),
        "an NMC PIN is 2 digits, a letter, 4 digits and a letter, e.g. 12A3456E",
    ),
}

MIN_PASSWORD_LENGTH = 12
FAILURES_BEFORE_LOCK = 5
FIRST_LOCK = timedelta(minutes=1)
LONGEST_LOCK = timedelta(hours=1)

# The demo account exists only outside production. Its password is public by
# design (printed by `make run` and in the README); never reuse it elsewhere.
DEMO_EMAIL = "demo.paramedic@example.org"
DEMO_PASSWORD = "demo-paramedic-only"  # noqa: S105 - documented demo-only credential
# email, name, role, register, registration number, organisation
DEMO_ACCOUNT = (DEMO_EMAIL, "Demo Paramedic", "paramedic", "HCPC", "PA12345", "Demo Ambulance")


class ClinicianError(ValueError):
    """A caller mistake (bad registration number, unknown email); the message is for people."""


class SignInError(Exception):
    """Sign-in refused. The message never says which of email, password or code was wrong."""

    def __init__(self, message: str = "Email, password or code not recognised.") -> None:
        super().__init__(message)
        self.message = message


class AccountSuspended(SignInError):
    """Correct credentials for a suspended account; said only after all three checked out."""

    def __init__(self) -> None:
        super().__init__("This account is suspended. Contact your administrator.")


class LockedOut(SignInError):
    """Too many consecutive failures; the account refuses every attempt until `until`."""

    def __init__(self, until: datetime) -> None:
        super().__init__(f"Too many failed attempts. Try again after {until:%H:%M} UTC.")
        self.until = until


@dataclass(frozen=True)
class DemoCredentials:
    email: str
    password: str
    otpauth_uri: str
    created: bool


def utcnow() -> datetime:
    return datetime.now(UTC)


# -- validation -------------------------------------------------------------


def normalise_email(email: str) -> str:
    """Trimmed, lower-case; "" when it holds control characters (NUL...), which no
    email has and PostgreSQL refuses even to look up."""
    email = (email or "").strip().lower()
    return email if email.isprintable() else ""


def validate_email(email: str) -> str:
    email = normalise_email(email)
    local, _, domain = email.partition("@")
    if not local or "." not in domain or any(c.isspace() for c in email) or "@" in domain:
        raise ClinicianError(f"{email!r} is not an email address")
    return email


def normalise_registration(register: str, number: str) -> tuple[str, str]:
    """Upper-case and strip spaces, then check the format of that register."""
    register = (register or "").strip().upper()
    if register not in REGISTERS:
        raise ClinicianError(f"register must be one of {', '.join(REGISTERS)}, not {register!r}")
    cleaned = re.sub(r"[\s-]", "", number or "").upper()
    pattern, rule = REGISTERS[register]
    if not pattern.fullmatch(cleaned):
        raise ClinicianError(f"{number!r} is not a valid {register} number: {rule}")
    return register, cleaned


def check_role(role: str, register: str) -> str:
    role = (role or "").strip().lower()
    if role not in ROLES:
        raise ClinicianError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    expected = ROLE_REGISTER.get(role)
    if expected and expected != register:
        raise ClinicianError(f"a {role} must be on the {expected} register, not {register}")
    return role


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ClinicianError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")


# -- accounts -------------------------------------------------------------------


def find_clinician(email: str) -> Clinician | None:
    return db.session.scalar(select(Clinician).where(Clinician.email == normalise_email(email)))


def get_clinician(email: str) -> Clinician:
    clinician = find_clinician(email)
    if clinician is None:
        raise ClinicianError(f"no clinician with email {normalise_email(email)!r}")
    return clinician


def audit_account(kind, subject: Clinician, *, actor=None, outcome="success", **details):
    """Record a change to `subject`'s account, made by themselves (actor=subject),
    an admin clinician, or the command line (actor None)."""
    actor_type = "clinician" if actor is subject else ("admin" if actor else "cli")
    record_event(
        kind,
        outcome=outcome,
        actor=actor,
        actor_type=actor_type,
        clinician_id=subject.id,
        **details,
    )


def _own_event(kind, clinician: Clinician, client: str | None, outcome="success", **details):
    """An event about a clinician's own sign-in or session."""
    audit_account(kind, clinician, actor=clinician, client=client, outcome=outcome, **details)


def add_clinician(
    email: str,
    name: str,
    role: str,
    register: str,
    registration_number: str,
    organisation: str,
    expires: date | None = None,
    password: str | None = None,
    *,
    actor: Clinician | None = None,
    client: str | None = "cli",
) -> tuple[Clinician, str | None, str]:
    """Create an account. Returns (clinician, generated password or None, otpauth URI)."""
    email = validate_email(email)
    register, number = normalise_registration(register, registration_number)
    role = check_role(role, register)
    name, organisation = (name or "").strip(), (organisation or "").strip()
    if not name:
        raise ClinicianError("a name is required")
    if not organisation:
        raise ClinicianError("an organisation is required")
    generated = None
    if password is None:
        password = generated = credentials.generate_password()
    check_password_strength(password)
    password_hash = credentials.hash_password(password)  # slow: before taking the write lock
    begin_write()
    if find_clinician(email) is not None:
        db.session.rollback()
        raise ClinicianError(f"a clinician with email {email!r} already exists")
    clinician = Clinician(
        email=email,
        name=name,
        role=role,
        register=register,
        registration_number=number,
        organisation=organisation,
        registration_expires=expires,
        password_hash=password_hash,
    )
    db.session.add(clinician)
    db.session.flush()  # the id is part of the TOTP secret's encryption label
    credentials.set_totp_secret(clinician, pyotp.random_base32())
    audit_account(EventKind.CLINICIAN_ADDED, clinician, actor=actor, client=client)
    return clinician, generated, credentials.otpauth_uri(clinician)


def _end_sessions(clinician: Clinician) -> None:
    """Every session carries the epoch it began in: bumping it ends them all."""
    clinician.session_epoch = (clinician.session_epoch or 0) + 1
    db.session.execute(
        update(ApiToken)
        .where(ApiToken.clinician_id == clinician.id, ApiToken.revoked.is_(False))
        .values(revoked=True)
    )


def _change(email: str) -> Clinician:
    begin_write()
    return locked_row(get_clinician(email))


def suspend(email: str, *, actor: Clinician | None = None, client: str | None = "cli") -> Clinician:
    """Stop an account at once: it cannot sign in, and its sessions and tokens end."""
    clinician = _change(email)
    clinician.status = "suspended"
    _end_sessions(clinician)
    audit_account(EventKind.CLINICIAN_SUSPENDED, clinician, actor=actor, client=client)
    return clinician


def reinstate(
    email: str, *, actor: Clinician | None = None, client: str | None = "cli"
) -> Clinician:
    clinician = _change(email)
    clinician.status = "active"
    clinician.failed_signins = 0
    clinician.locked_until = None
    audit_account(EventKind.CLINICIAN_REINSTATED, clinician, actor=actor, client=client)
    return clinician


def reset_totp(email: str, *, actor: Clinician | None = None, client: str | None = "cli") -> str:
    """New TOTP secret (a lost phone); ends every session too. Returns the otpauth URI."""
    clinician = _change(email)
    credentials.set_totp_secret(clinician, pyotp.random_base32())
    _end_sessions(clinician)
    audit_account(EventKind.CLINICIAN_TOTP_RESET, clinician, actor=actor, client=client)
    return credentials.otpauth_uri(clinician)


def sign_out_everywhere(clinician: Clinician, *, client: str | None = None) -> int:
    """End every session and revoke every API token. Returns the new session epoch."""
    begin_write()
    clinician = locked_row(clinician)
    _end_sessions(clinician)
    _own_event(EventKind.CLINICIAN_SIGNED_OUT_EVERYWHERE, clinician, client)
    return clinician.session_epoch


# -- sign-in --------------------------------------------------------------------


def locked_row(clinician: Clinician) -> Clinician:
    """Re-read the row under the write lock (FOR UPDATE on PostgreSQL) after begin_write()."""
    return db.session.execute(
        select(Clinician)
        .where(Clinician.id == clinician.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()


def lock_duration(failures: int) -> timedelta | None:
    """No lock before the 5th failure in a row; then 1 minute, doubling up to an hour."""
    if failures < FAILURES_BEFORE_LOCK:
        return None
    return min(FIRST_LOCK * 2 ** (failures - FAILURES_BEFORE_LOCK), LONGEST_LOCK)


def check_notlocked_row(clinician: Clinician, now: datetime, client: str | None) -> None:
    if clinician.locked_until is not None and now < clinician.locked_until:
        _own_event(EventKind.CLINICIAN_SIGNIN_FAILED, clinician, client, "denied", why="locked")
        raise LockedOut(clinician.locked_until)


def _refuse(clinician: Clinician, why: str, now: datetime, client: str | None) -> SignInError:
    """Count a failure (under the write lock), lock the account if it is one too many."""
    clinician.failed_signins = (clinician.failed_signins or 0) + 1
    duration = lock_duration(clinician.failed_signins)
    if duration is not None:
        clinician.locked_until = now + duration
    locks = duration is not None
    _own_event(
        EventKind.CLINICIAN_SIGNIN_FAILED, clinician, client, "failed", why=why, commit=not locks
    )
    if duration is None:
        return SignInError()
    minutes = int(duration.total_seconds() // 60)
    _own_event(EventKind.CLINICIAN_LOCKED_OUT, clinician, client, "denied", minutes=minutes)
    return LockedOut(clinician.locked_until)


def complete_sign_in(
    clinician: Clinician, now: datetime, client: str | None, method: str
) -> Clinician:
    """Credentials proven (call inside begin_write): refuse if suspended, else reset failures."""
    if clinician.status != "active":
        why = "suspended"
        _own_event(
            EventKind.CLINICIAN_SIGNIN_FAILED, clinician, client, "denied", why=why, method=method
        )
        raise AccountSuspended()
    clinician.failed_signins = 0
    clinician.locked_until = None
    can_unlock = clinician.can_unlock(now.date())
    _own_event(
        EventKind.CLINICIAN_SIGNED_IN, clinician, client, method=method, can_unlock=can_unlock
    )
    return clinician


def authenticate(
    email: str, password: str, totp: str, client: str | None, *, now: datetime | None = None
) -> Clinician:
    """Email + password + TOTP code, all three, or a SignInError that does not say which."""
    now = now or utcnow()
    clinician = find_clinician(email)
    if clinician is None:
        credentials.spend_equal_time(password or "")
        # The typed email is not recorded: people type passwords into the wrong field.
        record_event(
            EventKind.CLINICIAN_SIGNIN_FAILED,
            outcome="failed",
            actor_type="clinician",
            client=client,
            why="unknown_account",
        )
        raise SignInError()
    check_notlocked_row(clinician, now, client)
    # The slow hash runs before the write lock is taken; the code is re-checked under it.
    password_ok = credentials.verify_password(clinician, password or "")
    counter = credentials.match_totp(clinician, totp, now) if password_ok else None
    begin_write()
    clinician = locked_row(clinician)
    check_notlocked_row(clinician, now, client)  # a parallel attempt may have locked it
    if not password_ok:
        raise _refuse(clinician, "bad_password", now, client)
    if counter is None or not credentials.unused_counter(clinician, counter):
        raise _refuse(clinician, "bad_code", now, client)
    clinician.totp_last_counter = counter
    return complete_sign_in(clinician, now, client, "password+totp")


# -- demo -----------------------------------------------------------------------


def ensure_demo_clinician() -> DemoCredentials | None:
    """Create the demo paramedic for `make run`; None in production or with demo off.

    If the account exists already its TOTP secret is decrypted (it is stored
    encrypted like every other) so the otpauth URI can be printed again; the
    password is the documented demo-only constant.
    """
    settings = current_app.config["TAGSERVICE"]
    if settings.production or not settings.demo:
        return None
    clinician = find_clinician(DEMO_EMAIL)
    if clinician is not None:
        uri = credentials.otpauth_uri(clinician)
        return DemoCredentials(DEMO_EMAIL, DEMO_PASSWORD, uri, created=False)
    _, _, uri = add_clinician(*DEMO_ACCOUNT, password=DEMO_PASSWORD, client="demo")
    return DemoCredentials(DEMO_EMAIL, DEMO_PASSWORD, uri, created=True)
