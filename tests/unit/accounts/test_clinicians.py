"""Account rules: registration numbers, argon2id, TOTP once only, throttling per client."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
from sqlalchemy import select

from tagservice import demo as demo_module
from tagservice.accounts import clinicians
from tagservice.accounts.clinicians import AccountSuspended, ClinicianError, SignInError, Throttled
from tagservice.audit import verify_chain
from tagservice.keys import generate_kek, write_private
from tagservice.store.db import db
from tagservice.store.models import AuditEvent, Clinician

FAST_ARGON2 = {"time_cost": 1, "memory_cost": 8, "parallelism": 1}
PASSWORD = "correct horse battery"
NOW = datetime(2026, 11, 27, 8, 0, 0, tzinfo=UTC)
CLIENT = "192.0.2.7"


@pytest.fixture(autouse=True)
def fast_kdf(app, settings):
    """Cheap argon2 (its cost is for attackers, not tests) and a KEK for TOTP secrets."""
    app.config["ARGON2_PARAMS"] = FAST_ARGON2
    write_private(settings.kek_file, generate_kek())


@pytest.fixture
def paramedic(app_context):
    clinician, _, uri = clinicians.add_clinician(
        "Ann.Medic@Example.nhs.uk", "Ann Medic", "paramedic", "HCPC", "PA12345",
        "Example Ambulance Service", password=PASSWORD,
    )  # fmt: skip
    return clinician, pyotp.TOTP(parse_qs(urlsplit(uri).query)["secret"][0])


def sign_in(clinician, totp, *, now=NOW, password=PASSWORD, code=None):
    return clinicians.authenticate(clinician.email, password, code or totp.at(now), CLIENT, now=now)


def events(kind: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.kind == kind)))


# -- registration numbers ---------------------------------------------------------


@pytest.mark.parametrize(
    ("register", "number", "stored"),
    [
        ("HCPC", "PA12345", "PA12345"),
        ("HCPC", "PA123456", "PA123456"),
        ("hcpc", "pa 12345", "PA12345"),
        ("GMC", "1234567", "1234567"),
        ("GMC", " 7654321 ", "7654321"),
        ("NMC", "12A3456E", "12A3456E"),
        ("NMC", "12a3456e", "12A3456E"),
        ("NMC", "12A-3456E", "12A3456E"),
    ],
)
def test_valid_registration_numbers_are_normalised(register, number, stored):
    assert clinicians.normalise_registration(register, number) == (register.upper(), stored)


@pytest.mark.parametrize(
    ("register", "number", "hint"),
    [
        ("HCPC", "PA1234", "PA followed by 5 or 6 digits"),
        ("HCPC", "PA1234567", "PA followed by 5 or 6 digits"),
        ("HCPC", "OT12345", "PA followed by 5 or 6 digits"),
        ("HCPC", "12345", "PA followed by 5 or 6 digits"),
        ("GMC", "123456", "exactly 7 digits"),
        ("GMC", "12345678", "exactly 7 digits"),
        ("GMC", "123456A", "exactly 7 digits"),
        ("NMC", "123A456E", "2 digits, a letter, 4 digits and a letter"),
        ("NMC", "12A34567", "2 digits, a letter, 4 digits and a letter"),
        ("NMC", "", "2 digits, a letter, 4 digits and a letter"),
        ("NMC", "12A3456E9", "2 digits, a letter, 4 digits and a letter"),
    ],
)
def test_invalid_registration_numbers_are_refused_with_the_rule(register, number, hint):
    with pytest.raises(ClinicianError, match=hint):
        clinicians.normalise_registration(register, number)


def test_an_unknown_register_is_refused():
    with pytest.raises(ClinicianError, match="register must be one of HCPC, GMC, NMC"):
        clinicians.normalise_registration("RCVS", "1234567")


def test_a_paramedic_must_be_on_the_hcpc_register(app_context):
    with pytest.raises(ClinicianError, match="a paramedic must be on the HCPC register"):
        clinicians.add_clinician("x@example.org", "X", "paramedic", "GMC", "1234567", "Org")


def test_an_admin_may_hold_any_register(app_context):
    clinician, _, _ = clinicians.add_clinician(
        "admin@example.org", "Ad Min", "admin", "NMC", "12A3456E", "Trust"
    )
    assert clinician.role == "admin"


# -- adding accounts ----------------------------------------------------------------


def test_adding_a_clinician_stores_an_argon2id_hash_and_an_encrypted_totp_secret(paramedic):
    clinician, totp = paramedic
    assert clinician.email == "ann.medic@example.nhs.uk"
    assert clinician.password_hash.startswith("$argon2id$")
    assert PASSWORD not in clinician.password_hash
    assert totp.secret not in clinician.totp_secret_enc
    assert len(events("clinician.added")) == 1


def test_adding_without_a_password_generates_a_strong_one(app_context):
    _, generated, uri = clinicians.add_clinician(
        "b@example.org", "B", "doctor", "GMC", "1234567", "Trust"
    )
    assert generated is not None and len(generated) >= 20
    assert uri.startswith("otpauth://totp/tagservice:b%40example.org?secret=")


def test_a_short_password_is_refused(app_context):
    with pytest.raises(ClinicianError, match="at least 12 characters"):
        clinicians.add_clinician(
            "c@example.org", "C", "nurse", "NMC", "12A3456E", "Trust", password="short"
        )


def test_a_second_account_with_the_same_email_is_refused(paramedic):
    with pytest.raises(ClinicianError, match="already exists"):
        clinicians.add_clinician(
            "ANN.MEDIC@example.nhs.uk", "Ann", "paramedic", "HCPC", "PA54321", "Other"
        )


def test_the_password_is_rehashed_when_the_argon2_parameters_change(app, paramedic):
    clinician, totp = paramedic
    old_hash = clinician.password_hash
    app.config["ARGON2_PARAMS"] = FAST_ARGON2 | {"time_cost": 2}
    sign_in(clinician, totp)
    assert clinician.password_hash != old_hash
    assert "t=2" in clinician.password_hash


# -- sign-in ------------------------------------------------------------------------------


def test_email_password_and_current_code_sign_in(paramedic):
    clinician, totp = paramedic
    assert sign_in(clinician, totp).id == clinician.id
    [event] = events("clinician.signed_in")
    assert event.registration == "HCPC PA12345"
    assert json.loads(event.details)["method"] == "password+totp"


def test_the_email_is_not_case_sensitive(paramedic):
    clinician, totp = paramedic
    found = clinicians.authenticate("  ANN.MEDIC@example.NHS.uk", PASSWORD, totp.at(NOW), CLIENT,
                                    now=NOW)  # fmt: skip
    assert found.id == clinician.id


def test_wrong_password_wrong_code_and_unknown_email_give_the_same_message(paramedic):
    clinician, totp = paramedic
    wrong_code = f"{(int(totp.at(NOW)) + 1) % 1_000_000:06d}"
    attempts = [
        ("ann.medic@example.nhs.uk", "wrong password!", totp.at(NOW)),
        ("ann.medic@example.nhs.uk", PASSWORD, wrong_code),
        ("nobody@example.nhs.uk", PASSWORD, totp.at(NOW)),
    ]
    messages = set()
    for email, password, code in attempts:
        with pytest.raises(SignInError) as caught:
            clinicians.authenticate(email, password, code, CLIENT, now=NOW)
        assert type(caught.value) is SignInError
        messages.add(caught.value.message)
    assert messages == {"Email, password or code not recognised."}


def test_a_failed_attempt_for_an_unknown_email_is_audited_without_the_email(paramedic):
    with pytest.raises(SignInError):
        clinicians.authenticate("typo@example.org", "hunter2hunter2", "123456", CLIENT, now=NOW)
    [event] = events("clinician.signin_failed")
    assert event.actor_id is None and event.client == CLIENT
    assert "typo" not in event.details and "hunter2" not in event.details


def test_the_code_from_the_previous_time_step_is_accepted(paramedic):
    clinician, totp = paramedic
    assert sign_in(clinician, totp, code=totp.at(NOW - timedelta(seconds=30)))


def test_a_code_two_time_steps_old_is_refused(paramedic):
    clinician, totp = paramedic
    with pytest.raises(SignInError):
        sign_in(clinician, totp, code=totp.at(NOW - timedelta(seconds=60)))


def test_the_same_code_is_refused_the_second_time(paramedic):
    clinician, totp = paramedic
    sign_in(clinician, totp)
    with pytest.raises(SignInError):
        sign_in(clinician, totp, now=NOW + timedelta(seconds=5))


def test_an_older_code_is_refused_once_a_newer_one_was_used(paramedic):
    clinician, totp = paramedic
    sign_in(clinician, totp, now=NOW)
    later = NOW + timedelta(seconds=10)
    with pytest.raises(SignInError):
        sign_in(clinician, totp, now=later, code=totp.at(NOW - timedelta(seconds=30)))
    assert sign_in(clinician, totp, now=NOW + timedelta(seconds=30))


# -- throttling (tests/web/test_signin_throttle.py has the attacker's view) -------------------
# (Was: five failures locked the account for everyone, doubling up to an hour. Now only
# the client that failed waits; the account itself never locks.)


def test_five_failures_make_that_client_wait_but_not_another(paramedic):
    clinician, totp = paramedic
    for n in range(5):
        with pytest.raises(SignInError) as caught:
            sign_in(clinician, totp, password="wrong password", now=NOW + timedelta(seconds=n))
        assert type(caught.value) is SignInError
    # Then the sixth attempt from that client is not even checked, right password or not
    with pytest.raises(Throttled) as caught:
        sign_in(clinician, totp, now=NOW + timedelta(seconds=30))
    assert 0 < caught.value.retry_after <= 15 * 60
    assert len(events("clinician.locked_out")) == 1
    # But the right password and code from another client sign in at once
    later = NOW + timedelta(seconds=31)
    assert clinicians.authenticate(
        clinician.email, PASSWORD, totp.at(later), "198.51.100.9", now=later
    )


def test_a_waiting_client_may_try_again_once_its_failures_leave_the_window(paramedic):
    clinician, totp = paramedic
    for n in range(5):
        with pytest.raises(SignInError):
            sign_in(clinician, totp, password="wrong password", now=NOW + timedelta(seconds=n))
    after = NOW + timedelta(minutes=15, seconds=5)
    assert sign_in(clinician, totp, now=after).status == "active"


def test_a_success_before_the_fifth_failure_starts_the_count_again(paramedic):
    clinician, totp = paramedic
    for n in range(4):
        with pytest.raises(SignInError):
            sign_in(clinician, totp, password="wrong password", now=NOW + timedelta(seconds=n))
    sign_in(clinician, totp, now=NOW + timedelta(seconds=30))
    with pytest.raises(SignInError) as caught:
        sign_in(clinician, totp, password="wrong password", now=NOW + timedelta(seconds=40))
    assert type(caught.value) is SignInError


# -- suspension, expiry, TOTP reset ------------------------------------------------------


def test_a_suspended_clinician_cannot_sign_in(paramedic):
    clinician, totp = paramedic
    clinicians.suspend(clinician.email)
    with pytest.raises(AccountSuspended, match="suspended"):
        sign_in(clinician, totp)
    # and a wrong password still gets the generic answer, so suspension is not revealed
    with pytest.raises(SignInError) as caught:
        sign_in(clinician, totp, password="wrong password", now=NOW + timedelta(seconds=31))
    assert type(caught.value) is SignInError
    assert len(events("clinician.suspended")) == 1


def test_a_reinstated_clinician_can_sign_in_again(paramedic):
    clinician, totp = paramedic
    clinicians.suspend(clinician.email)
    clinicians.reinstate(clinician.email)
    assert sign_in(clinician, totp).status == "active"


def test_an_expired_registration_signs_in_but_cannot_unlock(app_context):
    # Given a nurse whose NMC registration lapsed yesterday
    clinician, _, uri = clinicians.add_clinician(
        "nurse@example.org", "N", "nurse", "NMC", "12A3456E", "Trust",
        expires=NOW.date() - timedelta(days=1), password=PASSWORD,
    )  # fmt: skip
    totp = pyotp.TOTP(parse_qs(urlsplit(uri).query)["secret"][0])
    # When she signs in
    signed_in = sign_in(clinician, totp)
    # Then she is signed in, flagged, and the unlock check refuses her
    assert not signed_in.can_unlock(NOW.date())
    [event] = events("clinician.signed_in")
    assert json.loads(event.details)["can_unlock"] is False


def test_resetting_totp_makes_old_codes_useless_and_returns_a_new_uri(paramedic):
    clinician, old = paramedic
    uri = clinicians.reset_totp(clinician.email)
    new = pyotp.TOTP(parse_qs(urlsplit(uri).query)["secret"][0])
    assert new.secret != old.secret
    with pytest.raises(SignInError):
        sign_in(clinician, old)
    assert sign_in(clinician, new, now=NOW + timedelta(seconds=30))


def test_account_changes_for_an_unknown_email_are_refused(app_context):
    with pytest.raises(ClinicianError, match="no clinician with email"):
        clinicians.suspend("ghost@example.org")


def test_every_account_change_is_in_an_intact_audit_chain(paramedic):
    clinician, totp = paramedic
    sign_in(clinician, totp)
    clinicians.suspend(clinician.email)
    clinicians.reinstate(clinician.email)
    clinicians.reset_totp(clinician.email)
    kinds = [e.kind for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert kinds == [
        "clinician.added", "clinician.signed_in", "clinician.suspended",
        "clinician.reinstated", "clinician.totp_reset",
    ]  # fmt: skip
    assert verify_chain().ok


# -- demo -------------------------------------------------------------------------------


def test_the_demo_paramedic_is_created_once_and_can_sign_in(app_context):
    first = demo_module.ensure_demo_clinician()
    again = demo_module.ensure_demo_clinician()
    assert first.created and not again.created
    assert first.otpauth_uri == again.otpauth_uri
    assert first.password == clinicians.DEMO_PASSWORD
    totp = pyotp.TOTP(parse_qs(urlsplit(first.otpauth_uri).query)["secret"][0])
    demo = db.session.scalar(select(Clinician).where(Clinician.email == first.email))
    assert demo.registration == "HCPC PA12345"
    assert sign_in(demo, totp, password=first.password)


def test_there_is_no_demo_paramedic_in_production(app, settings):
    app.config["TAGSERVICE"] = settings.with_overrides(env="production", demo=False)
    with app.app_context():
        assert demo_module.ensure_demo_clinician() is None
        assert db.session.scalar(select(Clinician)) is None


def test_no_demo_paramedic_when_demo_is_switched_off(app, settings):
    app.config["TAGSERVICE"] = settings.with_overrides(demo=False)
    with app.app_context():
        assert demo_module.ensure_demo_clinician() is None


def test_registration_expiry_day_itself_still_unlocks(app_context):
    clinician, _, _ = clinicians.add_clinician(
        "d@example.org", "D", "doctor", "GMC", "1234567", "Trust", expires=date(2026, 11, 27)
    )
    assert clinician.can_unlock(date(2026, 11, 27))
    assert not clinician.can_unlock(date(2026, 11, 28))
