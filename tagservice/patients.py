"""Patient accounts: sign-up, sign-in with lockout, optional TOTP, and encrypted storage.

No views here (portal.py is the web side). The password and lockout rules are
the clinicians' (credentials.py hashes, clinicians.lock_duration), but a
patient's secrets are encrypted under labels of their own ("patient-...:<id>"),
so a clinician's TOTP secret copied into a patient row, or one patient's draft
copied into another's, does not decrypt. Health data (the draft summary, the
issued card's details, the lines chosen for the back of the card) is stored
only encrypted; nothing here logs it.
"""

from __future__ import annotations

import hmac
import json
import re
from datetime import datetime
from typing import Any

import pyotp
from flask import current_app
from sqlalchemy import select

from . import clinicians, credentials
from .audit import EventKind, record_event
from .clinicians import LockedOut, SignInError
from .db import begin_write, db, utcnow
from .keys import decrypt_at_rest, encrypt_at_rest, load_kek
from .models import Patient

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


def sign_up(email: str, password: str, confirm: str, client: str | None) -> Patient:
    """Create an account. The email is not verified: it is only the name to sign in with."""
    try:
        email = clinicians.validate_email(email)
    except clinicians.ClinicianError:
        raise PatientError("email", "Enter an email address like name@example.com.") from None
    check_new_password(password, confirm)
    password_hash = credentials.hash_password(password)  # slow: before the write lock
    begin_write()
    if find_patient(email) is not None:
        db.session.rollback()
        raise PatientError("email", "There is already an account with this email. Sign in.")
    patient = Patient(email=email, password_hash=password_hash)
    db.session.add(patient)
    db.session.flush()
    audit_account("signed_up", patient, client, commit=False)
    db.session.commit()
    return patient


def locked_row(patient: Patient) -> Patient:
    """Re-read the row under the write lock (FOR UPDATE on PostgreSQL) after begin_write()."""
    return db.session.execute(
        select(Patient)
        .where(Patient.id == patient.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()


def _refuse(patient: Patient, why: str, now: datetime, client: str | None) -> SignInError:
    """Count a failure under the write lock; lock the account when it is one too many."""
    patient.failed_signins = (patient.failed_signins or 0) + 1
    duration = clinicians.lock_duration(patient.failed_signins)
    if duration is not None:
        patient.locked_until = now + duration
    audit_account("signin_failed", patient, client, outcome="failed", why=why, commit=False)
    if duration is not None:
        minutes = int(duration.total_seconds() // 60)
        audit_account(
            "locked_out", patient, client, outcome="denied", minutes=minutes, commit=False
        )
    db.session.commit()
    return SignInError() if duration is None else LockedOut(patient.locked_until)


def _check_not_locked(patient: Patient, now: datetime) -> None:
    if patient.locked_until is not None and now < patient.locked_until:
        raise LockedOut(patient.locked_until)


def authenticate(
    email: str, password: str, code: str, client: str | None, *, now: datetime | None = None
) -> Patient:
    """Email + password (+ the TOTP code if the patient turned it on), or a SignInError
    that does not say which was wrong."""
    now = now or utcnow()
    patient = find_patient(email)
    if patient is None:
        credentials.spend_equal_time(password or "")
        audit_account("signin_failed", None, client, outcome="failed", why="unknown_account")
        raise SignInError()
    _check_not_locked(patient, now)
    password_ok = credentials.verify_password(patient, password or "")
    counter = match_totp(patient, code, now) if password_ok and patient.totp_secret_enc else None
    begin_write()
    patient = locked_row(patient)
    _check_not_locked(patient, now)  # a parallel attempt may have locked it
    if not password_ok:
        raise _refuse(patient, "bad_password", now, client)
    if patient.totp_secret_enc:
        if counter is None or not credentials.unused_counter(patient, counter):
            raise _refuse(patient, "bad_code", now, client)
        patient.totp_last_counter = counter
    patient.failed_signins = 0
    patient.locked_until = None
    audit_account("signed_in", patient, client, commit=False)
    db.session.commit()
    return patient


def sign_out_everywhere(patient: Patient, client: str | None) -> int:
    """End every session of this account; returns the new epoch for the current one."""
    begin_write()
    patient = locked_row(patient)
    patient.session_epoch = (patient.session_epoch or 0) + 1
    audit_account("signed_out_everywhere", patient, client, commit=False)
    db.session.commit()
    return patient.session_epoch


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
    """The counter of a code for now or one step either side, never one used before."""
    code = re.sub(r"\s", "", code or "")
    if not re.fullmatch(r"[0-9]{6}", code):  # not \d: "１２３４５６" would reach compare_digest
        return None
    totp = pyotp.TOTP(secret, digits=6, interval=30)
    current = totp.timecode(now)
    matched = None
    for counter in (current - 1, current, current + 1):
        same = hmac.compare_digest(totp.generate_otp(counter), code)
        if same and (last is None or counter > last):
            matched = counter
    return matched


def match_totp(patient: Patient, code: str, now: datetime) -> int | None:
    if not patient.totp_secret_enc:
        return None
    label = f"patient-totp:{patient.id}"
    secret = decrypt_at_rest(_kek(), patient.totp_secret_enc, label).decode()
    return _match(secret, code, now, patient.totp_last_counter)


def enable_totp(patient: Patient, secret: str, code: str, client: str | None) -> None:
    """Turn on the second factor once the patient proves their app shows the right code."""
    now = utcnow()
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
    counter = match_totp(patient, code, utcnow())
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
