"""Sign-in throttling and odd codes (issue 12, the two "medium" sign-in findings).

An attacker who knows an email must not keep that clinician out; throttled answers,
wrong passwords and wrong codes (of any shape) must look alike and say nothing about
whether the email has an account; every failure is counted and audited.
"""

from __future__ import annotations

import json
import re
import statistics
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from tagservice.accounts import clinicians, patients, throttle
from tagservice.accounts.throttle import SignInError, Throttled
from tagservice.store.db import db
from tagservice.store.models import AuditEvent, SigninFailure
from tests.helpers import FAST_ARGON2, clinician_with_totp, csrf_from, enable_clinician_sign_in

PASSWORD = "correct horse battery"
EMAIL = "ann.medic@example.nhs.uk"
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


@pytest.fixture(autouse=True)
def web_app(app, settings):
    return enable_clinician_sign_in(app, settings)


@pytest.fixture
def totp(app):
    return clinician_with_totp(app, EMAIL, PASSWORD)


def api(app, address, *, password=PASSWORD, code="000000", email=EMAIL, raw=None):
    client = app.test_client()
    body = {"email": email, "password": password, "totp": code}
    return client.post(
        "/api/v1/session",
        data=raw if raw is not None else json.dumps(body, ensure_ascii=False),
        content_type="application/json",
        environ_base={"REMOTE_ADDR": address},
    )


def failures(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(SigninFailure))


def audited(app, kind="clinician.signin_failed") -> list[dict]:
    with app.app_context():
        rows = db.session.scalars(select(AuditEvent).where(AuditEvent.kind == kind))
        return [json.loads(e.details) for e in rows]


def without_tokens(page: str) -> str:
    """The page without its CSRF tokens (signed with a timestamp, so they differ)."""
    return re.sub(r'(value|data-csrf)="[\w.-]{40,}"', "", page)


def code_at(totp, seconds: int = 0) -> str:
    return totp.at(datetime.now(UTC) + timedelta(seconds=seconds))


# -- no lockout of the real person ------------------------------------------------------------


def test_an_attacker_guessing_from_one_address_does_not_keep_the_clinician_out(app, totp):
    # Given an attacker who has failed at Ann's email until their address must wait
    statuses = [api(app, "203.0.113.9").status_code for _ in range(8)]
    assert statuses == [401] * 5 + [429] * 3
    # When Ann signs in from her phone with the right password and code
    response = api(app, "198.51.100.20", code=totp.now())
    # Then she is in (the old lockout refused her with 429)
    assert response.status_code == 200 and response.get_json()["token"]


def test_a_botnet_putting_an_email_under_attack_still_cannot_keep_the_clinician_out(app, totp):
    # Given 60 addresses failing at Ann's email twice each (more than the guard threshold)
    for n in range(60):
        for _ in range(2):
            api(app, f"10.0.{n}.1")
    # Then each address now waits after two failures, not five...
    assert api(app, "10.0.7.1").status_code == 429
    # ...and Ann, from an address with no failures, signs in with password and code
    assert api(app, "198.51.100.20", code=totp.now()).status_code == 200


def test_the_numbers_are_the_documented_ones():
    assert (throttle.FAILURES_PER_CLIENT_ACCOUNT, throttle.FAILURES_PER_CLIENT) == (5, 20)
    assert (throttle.FAILURES_BEFORE_GUARD, throttle.GUARDED_FAILURES) == (50, 2)
    assert throttle.WINDOW == timedelta(minutes=15)


def test_one_address_guessing_at_many_emails_waits_after_twenty_failures(app_context, totp):
    now = datetime.now(UTC)
    for n in range(20):
        with pytest.raises(SignInError) as caught:
            clinicians.authenticate(
                f"user{n}@example.org", "guess!", "000000", "192.0.2.1", now=now
            )
        assert type(caught.value) is SignInError
    with pytest.raises(Throttled) as caught:
        clinicians.authenticate(EMAIL, PASSWORD, "000000", "192.0.2.1", now=now)
    assert caught.value.scope == "client"
    # Another address is not affected
    assert clinicians.authenticate(EMAIL, PASSWORD, code_at(totp), "192.0.2.2", now=now)


def test_a_success_forgets_that_addresses_failures_at_that_email(app_context, totp):
    now = datetime.now(UTC)
    for _ in range(4):
        with pytest.raises(SignInError):
            clinicians.authenticate(EMAIL, "typo!", "000000", "192.0.2.5", now=now)
    clinicians.authenticate(EMAIL, PASSWORD, code_at(totp), "192.0.2.5", now=now)
    for _ in range(5):
        with pytest.raises(SignInError) as caught:
            clinicians.authenticate(EMAIL, "typo!", "000000", "192.0.2.5", now=now)
        assert type(caught.value) is SignInError


def test_a_throttled_attempt_checks_nothing_and_is_audited_but_not_counted_again(app, totp):
    for _ in range(5):
        api(app, "203.0.113.9")
    counted = failures(app)
    # the right password and code from the waiting address are not even checked
    response = api(app, "203.0.113.9", code=totp.now())
    assert response.status_code == 429
    assert failures(app) == counted
    [event] = audited(app, "clinician.locked_out")
    assert event["scope"] == "client+account" and event["retry_after"] > 0


# -- nothing says whether the email has an account --------------------------------------------


def test_throttled_answers_are_the_same_for_an_email_with_and_without_an_account(app, totp):
    for _ in range(5):
        api(app, "203.0.113.1")
        api(app, "203.0.113.2", email="nobody@example.nhs.uk")
    known = api(app, "203.0.113.1")
    unknown = api(app, "203.0.113.2", email="nobody@example.nhs.uk")
    assert known.status_code == unknown.status_code == 429
    assert known.get_json() == unknown.get_json()
    assert "Too many attempts" in known.get_json()["message"]
    assert abs(int(known.headers["Retry-After"]) - int(unknown.headers["Retry-After"])) <= 2


def test_the_web_form_says_the_same_for_a_throttled_known_and_unknown_email(app, totp):
    pages = []
    for address, email in (("203.0.113.3", EMAIL), ("203.0.113.4", "nobody@example.nhs.uk")):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = address
        token = csrf_from(client.get("/signin").text)
        form = {"csrf_token": token, "email": email, "password": "guess!", "code": "000000"}
        for _ in range(5):
            assert client.post("/signin", data=form).status_code == 401
        last = client.post("/signin", data=form)
        assert last.status_code == 429
        pages.append(without_tokens(last.text).replace(email, ""))
    assert pages[0] == pages[1]


# -- odd codes: no 500, no oracle ---------------------------------------------------------------


def test_full_width_digits_with_the_right_password_are_refused_like_a_wrong_password(app, totp):
    # (The finding: right password + "１２３４５６" gave HTTP 500, wrong password 401.)
    code = "１２３４５６" if code_at(totp) != "123456" else "６５４３２１"
    right_password = api(app, "192.0.2.10", code=code)
    wrong_password = api(app, "192.0.2.11", code=code, password="not the password")
    assert right_password.status_code == wrong_password.status_code == 401
    assert right_password.get_json() == wrong_password.get_json()
    assert [e["why"] for e in audited(app)] == ["bad_code", "bad_password"]
    assert failures(app) == 2


def test_the_right_code_typed_with_full_width_or_arabic_indic_digits_signs_in(app, totp):
    assert api(app, "192.0.2.12", code=code_at(totp, -30).translate(FULL_WIDTH)).status_code == 200
    assert api(app, "192.0.2.13", code=code_at(totp).translate(ARABIC_INDIC)).status_code == 200


@pytest.mark.parametrize(
    "code",
    [
        "１２３４５６７",
        "12345６x",
        "1234567890" * 5,
        "",
        "½½½½½½",
        "１２ ３４",
        "𝟏𝟐𝟑𝟒𝟓",
        "\x00" * 6,
    ],
)
def test_every_odd_code_is_a_counted_audited_401_never_a_500(app, totp, code):
    response = api(app, "192.0.2.20", code=code)
    assert response.status_code == 401
    assert response.get_json()["message"] == "Email, password or code not recognised."
    assert failures(app) == 1 and audited(app)[-1]["why"] == "bad_code"


def test_a_password_with_a_lone_surrogate_is_a_counted_401(app, totp):
    raw = '{"email": "' + EMAIL + '", "password": "\\ud800 x", "totp": "000000"}'
    response = api(app, "192.0.2.21", raw=raw)
    assert response.status_code == 401
    assert failures(app) == 1


@pytest.mark.parametrize("form", ["clinician", "patient"])
def test_full_width_digits_on_the_web_sign_in_forms_are_a_plain_refusal(app, settings, totp, form):
    from tagservice import keys

    keys.init_instance(settings)
    app.config["ARGON2_PARAMS"] = FAST_ARGON2
    path = "/signin" if form == "clinician" else "/my/signin"
    if form == "patient":
        with app.app_context():
            patient = patients.sign_up(EMAIL, PASSWORD, PASSWORD, None)
            patients.enable_totp(patient, SECRET, _code(SECRET), None)
    answers = []
    for password in (PASSWORD, "not the password"):
        client = app.test_client()
        token = csrf_from(client.get(path).text)
        data = {"csrf_token": token, "email": EMAIL, "password": password, "code": "１２３４５６"}
        response = client.post(path, data=data)
        answers.append((response.status_code, without_tokens(response.text)))
    assert answers[0] == answers[1] and answers[0][0] == 401


SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def _code(secret: str) -> str:
    import pyotp

    return pyotp.TOTP(secret).at(datetime.now(UTC) - timedelta(seconds=30))


def test_a_wrong_code_and_a_wrong_password_take_about_the_same_time(app, settings, totp):
    # With the production argon2 cost, so the slow step dominates as it does for real
    app.config.pop("ARGON2_PARAMS", None)
    with app.app_context():
        clinician = clinicians.find_clinician(EMAIL)
        from tagservice.accounts import credentials

        clinician.password_hash = credentials.hash_password(PASSWORD)
        db.session.commit()
    timings: dict[str, list[float]] = {"password": [], "code": []}
    for n in range(3):
        for what, password in (("password", "not the password"), ("code", PASSWORD)):
            start = time.perf_counter()
            response = api(app, f"192.0.2.{100 + n}{len(what)}", password=password)
            timings[what].append(time.perf_counter() - start)
            assert response.status_code == 401
    ratio = statistics.median(timings["code"]) / statistics.median(timings["password"])
    assert 0.5 < ratio < 2, timings


# -- patients share the rules -----------------------------------------------------------------


def test_patients_share_the_throttle_and_a_waiting_address_does_not_lock_the_account(app, settings):
    from tagservice import keys

    keys.init_instance(settings)
    app.config["ARGON2_PARAMS"] = FAST_ARGON2
    with app.app_context():
        patients.sign_up("pat@example.com", PASSWORD, PASSWORD, None)

    def portal_sign_in(address, password):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = address
        token = csrf_from(client.get("/my/signin").text)
        data = {"csrf_token": token, "email": "pat@example.com", "password": password}
        return client.post("/my/signin", data=data)

    assert [portal_sign_in("203.0.113.5", "guess!").status_code for _ in range(6)] == [401] * 5 + [
        429
    ]
    assert portal_sign_in("198.51.100.7", PASSWORD).status_code == 302
