"""Passkeys end to end, against a software authenticator (tests/webauthn_soft.py)."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from tagservice.accounts import clinicians
from tagservice.store.db import db
from tagservice.store.models import AuditEvent, Passkey, WebauthnChallenge
from tests.passkey_helpers import (  # noqa: F401 (fixtures, found by name)
    EMAIL,
    ORIGIN,
    PASSWORD,
    csrf_token,
    passkey_sign_in,
    phone_fixture,
    register,
    registered_fixture,
    settings_fixture,
    signed_in_fixture,
    totp_fixture,
    web_app_fixture,
)
from tests.webauthn_soft import SoftAuthenticator, b64url


def events(kind: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.kind == kind)))


# -- registration -------------------------------------------------------------------


def test_the_passkey_page_loads_its_script_from_a_file(signed_in):
    page = signed_in.get("/passkeys/new").get_data(as_text=True)
    assert re.search(r'<script src="/static/passkey\.js\?v=\w+" defer></script>', page)
    assert 'data-passkey="register"' in page and "<script>" not in page


def test_the_passkey_script_is_small(app):
    assert (Path(app.static_folder) / "passkey.js").stat().st_size < 3072


def test_registration_options_ask_for_a_discoverable_verified_credential(signed_in):
    headers = {"X-CSRFToken": csrf_token(signed_in, "/passkeys/new")}
    options = signed_in.post("/passkeys/register/options", headers=headers).get_json()
    assert options["rp"]["id"] == "localhost"
    assert options["authenticatorSelection"]["residentKey"] == "required"
    assert options["authenticatorSelection"]["userVerification"] == "required"
    assert options["user"]["name"] == EMAIL
    assert EMAIL not in json.dumps(options["user"]["id"])  # the handle is opaque
    assert {p["alg"] for p in options["pubKeyCredParams"]} == {-7, -8, -257}


def test_a_signed_in_clinician_registers_a_passkey(app, signed_in, phone):
    response = register(signed_in, phone)
    assert response.status_code == 200
    assert response.get_json() == {"ok": True, "next": "/account"}
    with app.app_context():
        passkey = db.session.scalar(select(Passkey))
        assert passkey.credential_id == phone.credential_id
        assert passkey.clinician.email == EMAIL
        assert passkey.transports == "internal,hybrid"
        assert len(events("clinician.passkey_added")) == 1


def test_a_registered_passkey_is_excluded_from_the_next_registration(signed_in, registered):
    headers = {"X-CSRFToken": csrf_token(signed_in, "/passkeys/new")}
    options = signed_in.post("/passkeys/register/options", headers=headers).get_json()
    assert [c["id"] for c in options["excludeCredentials"]] == [b64url(registered.credential_id)]


def test_registering_the_same_passkey_twice_is_refused(signed_in, registered):
    assert register(signed_in, registered).status_code == 409


def test_registration_needs_a_signed_in_clinician(client, phone):
    response = client.post("/passkeys/register/options")
    assert response.status_code in (302, 400)  # no session: no CSRF token, no clinician


def test_registration_options_need_the_csrf_header(signed_in):
    assert signed_in.post("/passkeys/register/options").status_code == 400


def test_a_registration_made_on_another_origin_is_refused(app, signed_in):
    phishing = SoftAuthenticator("http://localhost.evil.example")
    assert register(signed_in, phishing).status_code == 400
    with app.app_context():
        assert db.session.scalar(select(Passkey)) is None


def test_a_passkey_without_user_verification_is_refused(signed_in):
    assert register(signed_in, SoftAuthenticator(ORIGIN, user_verified=False)).status_code == 400


def test_a_registration_challenge_is_used_once(signed_in, phone):
    headers = {"X-CSRFToken": csrf_token(signed_in, "/passkeys/new")}
    options = signed_in.post("/passkeys/register/options", headers=headers).get_json()
    credential = phone.create(options)
    first = signed_in.post("/passkeys/register/verify", json=credential, headers=headers)
    again = signed_in.post("/passkeys/register/verify", json=credential, headers=headers)
    assert (first.status_code, again.status_code) == (200, 400)


# -- passwordless sign-in ---------------------------------------------------------------


def test_a_passkey_signs_in_without_email_password_or_code(app, registered):
    # Given a fresh browser on the phone that holds the passkey
    client = app.test_client()
    # When the paramedic signs in with the passkey after scanning a tag
    response = passkey_sign_in(client, registered, next_url="/T/AEBAGBAFAYDQQCIKBM")
    # Then they are signed in and sent back to the tag
    assert response.status_code == 200
    assert response.get_json() == {"ok": True, "next": "/T/AEBAGBAFAYDQQCIKBM"}
    assert client.get("/account").status_code == 200
    with app.app_context():
        passkey = db.session.scalar(select(Passkey))
        assert passkey.sign_count == 1 and passkey.last_used_at is not None
        [event] = events("clinician.signed_in")[-1:]
        assert json.loads(event.details)["method"] == "passkey"


def test_passkey_sign_in_rotates_the_session(app, registered):
    client = app.test_client()
    with client.session_transaction() as session:
        session["planted"] = "x"
    passkey_sign_in(client, registered)
    with client.session_transaction() as session:
        assert "planted" not in session and "webauthn_signin" not in session
        assert session.permanent


@pytest.mark.parametrize("target", ["//evil.example", "https://evil.example/T/A", None])
def test_passkey_sign_in_never_redirects_off_site(app, registered, target):
    response = passkey_sign_in(app.test_client(), registered, next_url=target)
    assert response.get_json()["next"] == "/account"


def test_a_replayed_assertion_is_refused(app, registered):
    client = app.test_client()
    captured = {}
    passkey_sign_in(client, registered, tamper=captured.update)
    # When the same signed assertion is sent against a new challenge
    replay = app.test_client()
    response = passkey_sign_in(replay, registered, tamper=lambda c: c.update(captured))
    assert response.status_code == 401
    assert replay.get("/account").status_code == 302


def test_a_cloned_authenticator_whose_counter_went_back_is_refused(app, registered):
    assert passkey_sign_in(app.test_client(), registered).status_code == 200
    registered.sign_count = 0  # a clone starts from the counter it was copied at
    assert passkey_sign_in(app.test_client(), registered).status_code == 401


def test_an_assertion_from_another_origin_is_refused(app, registered):
    registered.origin = "http://localhost.evil.example"
    assert passkey_sign_in(app.test_client(), registered).status_code == 401


def test_an_unknown_passkey_is_refused(app, totp):
    stranger = SoftAuthenticator(ORIGIN)
    stranger.rp_id = "localhost"
    response = passkey_sign_in(app.test_client(), stranger)
    assert response.status_code == 401
    assert response.get_json()["message"] == "This passkey was not accepted."


def test_an_assertion_naming_another_user_is_refused(app, registered):
    def other_user(credential):
        credential["response"]["userHandle"] = b64url(b"someone else")

    assert passkey_sign_in(app.test_client(), registered, tamper=other_user).status_code == 401


@pytest.mark.parametrize(
    "credential",
    [None, "text", [], {}, {"rawId": "AA"}, {"rawId": 5, "response": {}},
     {"rawId": "!!!", "response": {}}, {"rawId": "AAAA", "response": {"userHandle": 5}}],
)  # fmt: skip
def test_a_malformed_passkey_response_is_refused_cleanly(app, registered, credential):
    client = app.test_client()
    headers = {"X-CSRFToken": csrf_token(client, "/signin")}
    client.post("/signin/passkey/options", headers=headers)
    body = {"credential": credential, "next": 7}
    response = client.post("/signin/passkey/verify", json=body, headers=headers)
    assert response.status_code in (400, 401)
    assert response.get_json()["error"] in ("bad_request", "unauthorized")


def test_a_malformed_registration_is_refused_cleanly(signed_in):
    headers = {"X-CSRFToken": csrf_token(signed_in, "/passkeys/new")}
    signed_in.post("/passkeys/register/options", headers=headers)
    body = {"id": "AA", "rawId": "AA", "type": "public-key", "response": []}
    response = signed_in.post("/passkeys/register/verify", json=body, headers=headers)
    assert response.status_code == 400


def test_the_sign_in_options_need_the_csrf_header(client):
    client.get("/signin")
    assert client.post("/signin/passkey/options").status_code == 400


def test_a_suspended_clinician_cannot_sign_in_with_a_passkey(app, registered):
    with app.app_context():
        clinicians.suspend(EMAIL)
    response = passkey_sign_in(app.test_client(), registered)
    assert response.status_code == 403
    assert "suspended" in response.get_json()["message"]


def test_password_throttling_does_not_block_the_passkey(app, registered):
    # Given someone guessing passwords from this very address until it must wait
    with app.app_context():
        for _ in range(6):
            with pytest.raises(clinicians.SignInError):
                clinicians.authenticate(EMAIL, "a wrong guess!", "000000", "127.0.0.1")
    # When the paramedic uses their passkey from the same address
    # Then they are in
    assert passkey_sign_in(app.test_client(), registered).status_code == 200


def test_an_expired_sign_in_challenge_is_refused(app, registered):
    client = app.test_client()
    headers = {"X-CSRFToken": csrf_token(client, "/signin")}
    options = client.post("/signin/passkey/options", headers=headers).get_json()
    with app.app_context():
        row = db.session.scalar(select(WebauthnChallenge))
        row.created_at -= timedelta(seconds=301)
        db.session.commit()
    body = {"credential": registered.get(options)}
    response = client.post("/signin/passkey/verify", json=body, headers=headers)
    assert response.status_code == 400
