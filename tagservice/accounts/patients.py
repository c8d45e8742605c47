"""Patient accounts: sign-up, throttled sign-in, optional TOTP, and encrypted storage.

No views here (portal.py is the web side). The password and throttling rules are
the clinicians' (credentials.py, throttle.py, realm "patient"), but a
patient's secrets are encrypted under labels of their own ("patient-...:<id>"),
so a clinician's TOTP secret copied into a patient row, or one patient's draft
copied into another's, does not decrypt. Health data (the draft summary, the
issued card's details, the lines chosen for the back of the card) is stored
only encrypted; nothing here logs it.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pyotp
from flask import current_app
from sqlalchemy import select

from tagservice import clock
from tagservice.accounts import clinicians, credentials, sessions, throttle
from tagservice.accounts.throttle import SignInError, Throttled
from tagservice.audit import EventKind, record_event
from tagservice.keys import decrypt_at_rest, encrypt_at_rest, load_kek
from tagservice.store.db import begin_write, db, locked_row
from tagservice.store.models import Patient

REALM = "patient"

MIN_PASSWORD_LENGTH = clinicians.MIN_PASSWORD_LENGTH
BAD_CODE = "That code does not match. Type the 6 digits your app shows now."
MAX_PASSWORD_LENGTH = 1024  # argon2 takes any length; this only stops silly uploads
TOTP_ISSUER = "Emergency Tag"
# Audit kinds for patient account events.
_ACCOUNT_KINDS = {
    "signed_up": EventKind.PATIENT_SIGNED_UP,
    "signed_in": EventKind.PATIENT_SIGNED_IN,
    "signin_failed": EventKind.PATIENT_SIGNIN_FAILED,
    "locked_out": EventKind.PATIENT_LOCKED_OUT,
    "totp_changed": EventKind.PATIENT_TOTP_CHANGED,
    "signed_out_everywhere": EventKind.PATIENT_SIGNED_OUT_EVERYWHERE,
    "signed_out": EventKind.PATIENT_SIGNED_OUT,
}


class PatientError(ValueError):
    """A problem with what the person typed; `field` says which form field it belongs to."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message


def audit_account(what: str, patient: Patient | None, client: str | None, **details) -> None:
    """Record a patient account event in the audit trail."""
    kind = _ACCOUNT_KINDS[what]
    outcome = details.pop("outcome", "success")
    record_event(
        kind, outcome=outcome, actor=patient, actor_type="patient", client=client, **details
    )


# -- accounts -------------------------------------------------------------------


def find_patient(email: str) -> Patient | None:
    email = clinicians.normalise_email(email)
    return db.session.scalar(select(Patient).where(Patient.email == email))


def check_new_password(password: str, confirm: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PatientError("password", f"Use at least {MIN_PASSWORD_LENGTH} characters.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise PatientError("password", f"Use at most {MAX_PASSWORD_LENGTH} characters.")
    if password != confirm:
        raise PatientError("confirm", "The two passwords are not the same.")


def sign_up(email: str, password: str, confirm: str, client: str | None) -> Patient | None:
    """Create an account, or do nothing if the email has one; the caller answers both alike.

    The email is not verified: it is only the name to sign in with. Returns the new
    patient, or None when the email was taken (audited, without the email), so that
    sign-up never tells a stranger which emails have accounts.
    """
    try:
        email = clinicians.validate_email(email)
    except clinicians.ClinicianError:
        raise PatientError("email", "Enter an email address like name@example.com.") from None
    check_new_password(password, confirm)
    password_hash = credentials.hash_password(password)  # slow: before the write lock
    begin_write()
    if find_patient(email) is not None:
        audit_account("signed_up", None, client, outcome="denied", why="email_in_use")
        return None
    patient = Patient(email=email, password_hash=password_hash)
    db.session.add(patient)
    db.session.flush()
    audit_account("signed_up", patient, client, commit=False)
    db.session.commit()
    return patient


def _refuse(
    patient: Patient | None, email: str, why: str, now: datetime, client: str | None
) -> SignInError:
    """Count a failure towards throttling and audit it, in one write transaction."""
    begin_write()
    throttle.record_failure(REALM, email, client, now)
    audit_account("signin_failed", patient, client, outcome="failed", why=why, commit=False)
    db.session.commit()
    return SignInError()


def _check_not_throttled(email: str, client: str | None, now: datetime) -> None:
    try:
        throttle.check(REALM, email, client, now)
    except Throttled as e:
        audit_account(
            "locked_out",
            find_patient(email),
            client,
            outcome="denied",
            scope=e.scope,
            retry_after=e.retry_after,
        )
        raise


def authenticate(
    email: str, password: str, code: str, client: str | None, *, now: datetime | None = None
) -> Patient:
    """Email + password (+ the TOTP code if the patient turned it on), or a SignInError
    that does not say which was wrong (Throttled: this client must wait)."""
    now = now or clock.utcnow()
    email = clinicians.normalise_email(email)
    _check_not_throttled(email, client, now)
    patient = find_patient(email) if email else None
    if patient is None:
        credentials.spend_equal_time(password or "")
        raise _refuse(None, email, "unknown_account", now, client)
    password_ok = credentials.verify_password(patient, password or "")
    counter = match_totp(patient, code, now) if password_ok and patient.totp_secret_enc else None
    begin_write()
    patient = locked_row(patient)
    if not password_ok:
        raise _refuse(patient, email, "bad_password", now, client)
    if patient.totp_secret_enc:
        if counter is None or not credentials.unused_counter(patient, counter):
            raise _refuse(patient, email, "bad_code", now, client)
        patient.totp_last_counter = counter
    throttle.forget_failures(REALM, email, client)
    audit_account("signed_in", patient, client, commit=False)
    db.session.commit()
    return patient


def sign_out_everywhere(patient: Patient, client: str | None, keep: str | None = None) -> int:
    """End every other session of this account (all but `keep`); returns the new epoch."""
    begin_write()
    patient = locked_row(patient)
    patient.session_epoch = (patient.session_epoch or 0) + 1
    sessions.end_all(patient, keep=keep)
    audit_account("signed_out_everywhere", patient, client, commit=False)
    db.session.commit()
    return patient.session_epoch


def sign_out(patient: Patient, client: str | None, sid: str | None) -> None:
    """End this session on the server (a copy of the cookie opens nothing afterwards)."""
    begin_write()
    sessions.forget(sid)
    audit_account("signed_out", patient, client, commit=False)
    db.session.commit()


# -- TOTP (optional second factor) ---------------------------------------------


def _kek() -> bytes:
    return load_kek(current_app.config["TAGSERVICE"])


def new_totp_secret() -> str:
    return pyotp.random_base32()


def otpauth_uri(patient: Patient, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=patient.email, issuer_name=TOTP_ISSUER)


def seal_pending_secret(patient: Patient, secret: str) -> str:
    """A secret being set up travels in the (signed, readable) session only encrypted."""
    return encrypt_at_rest(_kek(), secret.encode(), f"patient-totp-pending:{patient.id}")


def open_pending_secret(patient: Patient, token: str) -> str:
    return decrypt_at_rest(_kek(), token, f"patient-totp-pending:{patient.id}").decode()


def _match(secret: str, code: str, now: datetime, last: int | None) -> int | None:
    return credentials.match_code(pyotp.TOTP(secret, digits=6, interval=30), code, now, last)


def match_totp(patient: Patient, code: str, now: datetime) -> int | None:
    if not patient.totp_secret_enc:
        return None
    label = f"patient-totp:{patient.id}"
    secret = decrypt_at_rest(_kek(), patient.totp_secret_enc, label).decode()
    return _match(secret, code, now, patient.totp_last_counter)


def enable_totp(patient: Patient, secret: str, code: str, client: str | None) -> None:
    """Turn on the second factor once the patient proves their app shows the right code."""
    now = clock.utcnow()
    counter = _match(secret, code, now, None)
    if counter is None:
        raise PatientError("code", BAD_CODE)
    begin_write()
    patient = locked_row(patient)
    patient.totp_secret_enc = encrypt_at_rest(_kek(), secret.encode(), f"patient-totp:{patient.id}")
    patient.totp_last_counter = counter
    audit_account("totp_changed", patient, client, enabled=True, commit=False)
    db.session.commit()


def disable_totp(patient: Patient, code: str, client: str | None) -> None:
    counter = match_totp(patient, code, clock.utcnow())
    if counter is None:
        raise PatientError("code", BAD_CODE)
    begin_write()
    patient = locked_row(patient)
    patient.totp_secret_enc = None
    patient.totp_last_counter = None
    audit_account("totp_changed", patient, client, enabled=False, commit=False)
    db.session.commit()


# -- encrypted storage ------------------------------------------------------------


def _seal_json(patient: Patient, what: str, value: Any) -> str:
    data = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    return encrypt_at_rest(_kek(), data, f"patient-{what}:{patient.id}")


def _open_json(patient: Patient, what: str, token: str | None, default: Any) -> Any:
    if not token:
        return default
    return json.loads(decrypt_at_rest(_kek(), token, f"patient-{what}:{patient.id}"))


def load_draft(patient: Patient) -> dict | None:
    return _open_json(patient, "draft", patient.draft_enc, None)


def save_draft(patient: Patient, draft: dict) -> None:
    """Store the draft (valid or not: it is work in progress) encrypted, and commit."""
    patient.draft_enc = _seal_json(patient, "draft", draft)
    db.session.commit()


def load_card(patient: Patient) -> dict | None:
    """What the last issued card shows: url, tag_id, first_name, issued, review, critical."""
    return _open_json(patient, "card", patient.card_enc, None)


def store_card(patient: Patient, card: dict) -> None:
    """Called inside the issuing transaction; the caller commits."""
    patient.card_enc = _seal_json(patient, "card", card)


def load_print_critical(patient: Patient) -> list[str]:
    return _open_json(patient, "print", patient.print_critical_enc, [])


def save_card_options(patient: Patient, refuse_superseded: bool, print_critical: list[str]) -> None:
    patient.refuse_superseded = refuse_superseded
    patient.print_critical_enc = _seal_json(patient, "print", print_critical)
    db.session.commit()
