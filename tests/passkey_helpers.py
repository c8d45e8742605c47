"""Shared by the passkey tests: a web app on localhost, a signed-in clinician, a phone.

Fixtures are defined once here under function names ending in `_fixture` (as in
portal_helpers.py); a test module imports them and pytest finds them by `name`.
"""

from __future__ import annotations

import re

import pytest

from tests.helpers import clinician_with_totp, enable_clinician_sign_in
from tests.webauthn_soft import SoftAuthenticator

PASSWORD = "correct horse battery"
EMAIL = "ann.medic@example.nhs.uk"
ORIGIN = "http://localhost:8000"  # browsers accept localhost as an RP id, not 127.0.0.1


@pytest.fixture(name="settings")
def settings_fixture(settings):
    return settings.with_overrides(base_url=ORIGIN)


@pytest.fixture(name="web_app", autouse=True)
def web_app_fixture(app, settings):
    return enable_clinician_sign_in(app, settings)


@pytest.fixture(name="totp")
def totp_fixture(app):
    return clinician_with_totp(app, EMAIL, PASSWORD)


def csrf_token(client, path) -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


@pytest.fixture(name="signed_in")
def signed_in_fixture(app, totp):
    """A client signed in with password and code, as before a first passkey."""
    client = app.test_client()
    form = {"email": EMAIL, "password": PASSWORD, "code": totp.now()}
    form["csrf_token"] = csrf_token(client, "/signin")
    assert client.post("/signin", data=form).status_code == 302
    return client


@pytest.fixture(name="phone")
def phone_fixture():
    return SoftAuthenticator(ORIGIN)


def register(client, authenticator):
    headers = {"X-CSRFToken": csrf_token(client, "/passkeys/new")}
    options = client.post("/passkeys/register/options", headers=headers).get_json()
    credential = authenticator.create(options)
    return client.post("/passkeys/register/verify", json=credential, headers=headers)


@pytest.fixture(name="registered")
def registered_fixture(signed_in, phone):
    assert register(signed_in, phone).status_code == 200
    return phone


def passkey_sign_in(client, authenticator, next_url=None, tamper=None):
    headers = {"X-CSRFToken": csrf_token(client, "/signin")}
    options = client.post("/signin/passkey/options", headers=headers).get_json()
    credential = authenticator.get(options)
    if tamper:
        tamper(credential)
    body = {"credential": credential, "next": next_url}
    return client.post("/signin/passkey/verify", json=body, headers=headers)
