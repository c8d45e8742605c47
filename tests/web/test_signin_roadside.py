"""Sign-in at the roadside (issue 15): a pause says what to do now; a failure keeps the email."""

from __future__ import annotations

import pytest

from tagservice import keys
from tagservice.accounts import patients
from tests.helpers import FAST_ARGON2, clinician_with_totp, csrf_from, enable_clinician_sign_in

EMAIL = "ann.medic@example.nhs.uk"
PASSWORD = "correct horse battery"
GUESS = "guess-Xq7!"


@pytest.fixture(autouse=True)
def web_app(app, settings):
    return enable_clinician_sign_in(app, settings)


def clinician_client(app, address="203.0.113.20"):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client, csrf_from(client.get("/signin").text)


def test_a_failed_sign_in_keeps_the_email_but_never_the_password_or_code(app):
    clinician_with_totp(app, EMAIL, PASSWORD)
    client, token = clinician_client(app)
    form = {"csrf_token": token, "email": EMAIL, "password": GUESS, "code": "493817"}
    response = client.post("/signin", data=form)
    assert response.status_code == 401
    assert f'value="{EMAIL}"' in response.text
    assert GUESS not in response.text and "493817" not in response.text


def test_a_throttled_sign_in_says_what_to_do_now(app):
    clinician_with_totp(app, EMAIL, PASSWORD)
    client, token = clinician_client(app)
    form = {"csrf_token": token, "email": EMAIL, "password": GUESS, "code": "000000"}
    for _ in range(5):
        assert "What to do now" not in client.post("/signin", data=form).text
    response = client.post("/signin", data=form)
    assert response.status_code == 429
    text = response.text
    assert "passkey" in text and "control room or clinical hub" in text
    assert "Treat the patient as unknown" in text and "printed on the card" in text
    assert f'value="{EMAIL}"' in text and GUESS not in text


def test_the_request_limit_on_sign_in_says_what_to_do_now_too(app):
    client, token = clinician_client(app, "203.0.113.21")
    form = {"csrf_token": token, "email": EMAIL, "password": GUESS, "code": "000000"}
    codes = [client.post("/signin", data=form).status_code for _ in range(11)]
    assert codes[-1] == 429
    last = client.post("/signin", data=form)
    assert "<h1>Too many attempts</h1>" in last.text
    assert "control room or clinical hub" in last.text


def test_a_failed_portal_sign_in_keeps_the_email_but_never_the_password(app, settings):
    keys.init_instance(settings)
    app.config["ARGON2_PARAMS"] = FAST_ARGON2
    with app.app_context():
        patients.sign_up("pat@example.com", PASSWORD, PASSWORD, None)
    client = app.test_client()
    token = csrf_from(client.get("/my/signin").text)
    response = client.post(
        "/my/signin", data={"csrf_token": token, "email": "pat@example.com", "password": GUESS}
    )
    assert response.status_code == 401
    assert 'value="pat@example.com"' in response.text and GUESS not in response.text
