"""Clinician accounts: registration numbers, suspension and sign-in.

No views here. The web sign-in, the API and the CLI all call these functions,
so the rules (what a valid HCPC number looks like, when a client must wait
(tagservice.accounts.throttle), that a TOTP code is accepted once) live in one place and
are tested without HTTP.
Every change to an account is written to the audit trail.
"""

from __future__ import annotations

import re
from datetime import date, datetime

import pyotp
from flask import current_app
from sqlalchemy import func, select, update

from tagservice import clock
from tagservice.accounts import credentials, passkey_store, roles, sessions, throttle
from tagservice.accounts.events import audit_account
from tagservice.accounts.throttle import SignInError, Throttled
from tagservice.audit import EventKind, record_event
from tagservice.store.db import begin_write, db, locked_row
from tagservice.store.models import ApiToken, Clinician, Passkey

# re-exported: the callers' one import for sign-in and account events
__all__ = ["SignInError", "Throttled", "audit_account"]
REALM = "clinician"

ROLES = ("paramedic", "doctor", "nurse", "admin", "receptionist")
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

# The demo account exists only outside production. Its password is public by
# design (printed by `make run` and in the README); never reuse it elsewhere.
DEMO_EMAIL = "demo.paramedic@example.org"
DEMO_PASSWORD = "demo-paramedic-only"  # noqa: S105 - documented demo-only credential
# email, name, role, register, registration number, organisation
DEMO_ACCOUNT = (DEMO_EMAIL, "Demo Paramedic", "paramedic", "HCPC", "PA12345", "Demo Ambulance")


class ClinicianError(ValueError):
    """A caller mistake (bad registration number, unknown email); the message is for people."""


class AccountSuspended(SignInError):
    """Correct credentials for a suspended account; said only after all three checked out."""

    def __init__(self) -> None:
        super().__init__("This account is suspended. Contact your administrator.")



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


def _no_registration(role: str, register, number) -> tuple[str, None, None]:
    """A receptionist holds no professional registration; one given is a mistake."""
    if (register or "").strip() or (number or "").strip():
        raise ClinicianError(
            f"a {role.strip().lower()} has no professional registration: "
            "leave out the register and number"
        )
    return role.strip().lower(), None, None


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
    if roles.needs_registration((role or "").strip().lower()):
        register, number = normalise_registration(register, registration_number)
        role = check_role(role, register)
    else:
        role, register, number = _no_registration(role, register, registration_number)
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


def _end_sessions(clinician: Clinician, *, keep: str | None = None) -> None:
    """End every browser session (but `keep`) and revoke every API token.

    The server-side session rows go; the epoch every session cookie carries moves too.
    """
    clinician.session_epoch = (clinician.session_epoch or 0) + 1
    sessions.end_all(clinician, keep=keep)
    db.session.execute(
        update(ApiToken)
        .where(ApiToken.clinician_id == clinician.id, ApiToken.revoked.is_(False))
        .values(revoked=True)
    )


def _change(email: str) -> Clinician:
    begin_write()
    return locked_row(get_clinician(email))


def suspend(
    email: str,
    *,
    remove_passkeys: bool = False,
    actor: Clinician | None = None,
    client: str | None = "cli",
) -> Clinician:
    """Stop an account at once: it cannot sign in, and its sessions and tokens end.

    Its passkeys stay (reinstating gives them back) unless `remove_passkeys`.
    """
    clinician = _change(email)
    clinician.status = "suspended"
    _end_sessions(clinician)
    if remove_passkeys:
        passkey_store.remove(clinician, clinician.passkeys, actor=actor, client=client)
    audit_account(EventKind.CLINICIAN_SUSPENDED, clinician, actor=actor, client=client)
    return clinician


def reinstate(
    email: str, *, actor: Clinician | None = None, client: str | None = "cli"
) -> Clinician:
    clinician = _change(email)
    clinician.status = "active"
    audit_account(EventKind.CLINICIAN_REINSTATED, clinician, actor=actor, client=client)
    return clinician


def reset_totp(
    email: str,
    *,
    remove_passkeys: bool = False,
    actor: Clinician | None = None,
    client: str | None = "cli",
) -> str:
    """New TOTP secret (a lost phone); ends every session too. Returns the otpauth URI.

    A passkey on the lost phone still signs in unless `remove_passkeys` (or
    `tagservice clinician passkeys remove`): the admin is told how many remain.
    """
    clinician = _change(email)
    credentials.set_totp_secret(clinician, pyotp.random_base32())
    _end_sessions(clinician)
    if remove_passkeys:
        passkey_store.remove(clinician, clinician.passkeys, actor=actor, client=client)
    audit_account(EventKind.CLINICIAN_TOTP_RESET, clinician, actor=actor, client=client)
    return credentials.otpauth_uri(clinician)


def passkey_count(email: str) -> int:
    clinician = get_clinician(email)
    return db.session.scalar(
        select(func.count()).select_from(Passkey).where(Passkey.clinician_id == clinician.id)
    )


def sign_out_everywhere(
    clinician: Clinician, *, client: str | None = None, keep: str | None = None
) -> int:
    """End every other session (all but `keep`) and revoke every API token.

    Returns the new session epoch, for the session that stays.
    """
    begin_write()
    clinician = locked_row(clinician)
    _end_sessions(clinician, keep=keep)
    _own_event(EventKind.CLINICIAN_SIGNED_OUT_EVERYWHERE, clinician, client)
    return clinician.session_epoch


# -- sign-in --------------------------------------------------------------------


def _refuse(
    clinician: Clinician, email: str, why: str, now: datetime, client: str | None
) -> SignInError:
    """Count a failure towards throttling and audit it (under the write lock), and commit."""
    throttle.record_failure(REALM, email, client, now)
    _own_event(EventKind.CLINICIAN_SIGNIN_FAILED, clinician, client, "failed", why=why)
    return SignInError()


def _refuse_unknown(email: str, why: str, now: datetime, client: str | None) -> SignInError:
    """No such account: counted and audited like a wrong password, without the typed email."""
    begin_write()
    throttle.record_failure(REALM, email, client, now)
    record_event(
        EventKind.CLINICIAN_SIGNIN_FAILED,
        outcome="failed",
        actor_type="clinician",
        client=client,
        why=why,
    )
    return SignInError()


def check_not_throttled(email: str, client: str | None, now: datetime) -> None:
    """Refuse (and audit) an attempt from a client that has failed too often; check nothing."""
    try:
        throttle.check(REALM, email, client, now)
    except Throttled as e:
        record_event(
            EventKind.CLINICIAN_LOCKED_OUT,
            outcome="denied",
            actor=find_clinician(email),
            actor_type="clinician",
            client=client,
            scope=e.scope,
            retry_after=e.retry_after,
        )
        raise


def demo_refused(clinician: Clinician) -> bool:
    """In production the demo account (its password is public) opens nothing."""
    return clinician.email == DEMO_EMAIL and current_app.config["TAGSERVICE"].production


def complete_sign_in(
    clinician: Clinician, now: datetime, client: str | None, method: str
) -> Clinician:
    """Credentials proven (call inside begin_write): refuse if suspended, else record it."""
    if clinician.status != "active":
        why = "suspended"
        _own_event(
            EventKind.CLINICIAN_SIGNIN_FAILED, clinician, client, "denied", why=why, method=method
        )
        raise AccountSuspended()
    can_unlock = clinician.can_unlock(now.date())
    _own_event(
        EventKind.CLINICIAN_SIGNED_IN, clinician, client, method=method, can_unlock=can_unlock
    )
    return clinician


def _check_factors(
    clinician: Clinician, email: str, password: str, totp: str, client: str | None, now: datetime
) -> Clinician:
    """Password and TOTP code, both, under the write lock; a failure is counted and audited.

    The slow hash runs before the write lock is taken; the code is re-checked under it.
    A wrong password and a wrong code (of any shape) take the same path and answer.
    """
    password_ok = credentials.verify_password(clinician, password or "")
    counter = credentials.match_totp(clinician, totp, now) if password_ok else None
    begin_write()
    clinician = locked_row(clinician)
    if not password_ok:
        raise _refuse(clinician, email, "bad_password", now, client)
    if counter is None or not credentials.unused_counter(clinician, counter):
        raise _refuse(clinician, email, "bad_code", now, client)
    clinician.totp_last_counter = counter
    throttle.forget_failures(REALM, email, client)
    return clinician


def authenticate(
    email: str, password: str, totp: str, client: str | None, *, now: datetime | None = None
) -> Clinician:
    """Email + password + TOTP code, all three, or a SignInError that does not say which."""
    now = now or clock.utcnow()
    email = normalise_email(email)
    check_not_throttled(email, client, now)
    clinician = find_clinician(email) if email else None
    if clinician is None or demo_refused(clinician):
        credentials.spend_equal_time(password or "")
        # The typed email is not recorded: people type passwords into the wrong field.
        why = "unknown_account" if clinician is None else "demo_account_in_production"
        raise _refuse_unknown(email, why, now, client)
    clinician = _check_factors(clinician, email, password, totp, client, now)
    return complete_sign_in(clinician, now, client, "password+totp")


def reauthenticate(
    clinician: Clinician, password: str, totp: str, client: str | None, sid: str, *, now=None
) -> None:
    """A signed-in clinician proves again who they are (before adding a passkey).

    Throttled and counted like a sign-in: a stolen session must not become a
    password oracle.
    """
    now = now or clock.utcnow()
    email = clinician.email
    check_not_throttled(email, client, now)
    clinician = _check_factors(clinician, email, password, totp, client, now)
    sessions.mark_proved(sid, now)
    _own_event(EventKind.CLINICIAN_REAUTHENTICATED, clinician, client, method="password+totp")
