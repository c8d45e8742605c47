"""Signing out ends the session on the server (issue 12, "medium": a saved session
cookie replayed after POST /signout still opened /account and unlocked a summary)."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import event

from tagservice.store.db import db
from tests.helpers import (
    FAST_ARGON2,
    clinician_with_totp,
    csrf_from,
    enable_clinician_sign_in,
    events,
    path_of,
    unlock_form,
)
from tests.portal_helpers import PASSWORD as PATIENT_PASSWORD
from tests.portal_helpers import signin as patient_signin
from tests.portal_helpers import signup as patient_signup

PASSWORD = "correct horse battery"
EMAIL = "ann.medic@example.nhs.uk"


@pytest.fixture
def web(app, settings):
    enable_clinician_sign_in(app, settings)
    return app


@pytest.fixture
def totp(web):
    return clinician_with_totp(web, EMAIL, PASSWORD)


def signed_in_clinician(app, code):
    client = app.test_client()
    token = csrf_from(client.get("/signin").text)
    form = {"csrf_token": token, "email": EMAIL, "password": PASSWORD, "code": code}
    assert client.post("/signin", data=form).status_code == 302
    return client


def copy_of(app, client):
    """Another browser holding a copy of `client`'s session cookie."""
    thief = app.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    return thief


def test_a_copied_clinician_cookie_opens_nothing_after_sign_out(web, totp, tag_url):
    # Given a paramedic signed in, and a copy of their cookie that works
    phone = signed_in_clinician(web, totp.now())
    thief = copy_of(web, phone)
    assert thief.get("/account").status_code == 200
    assert unlock_form(thief, tag_url).status_code == 200
    token = csrf_from(thief.get(path_of(tag_url)).text)
    unlocked = len(events(web, "tag.unlocked"))
    # When the paramedic signs out
    phone.post("/signout", data={"csrf_token": csrf_from(phone.get("/account").text)})
    # Then the copy opens neither the account page nor a summary
    assert thief.get("/account").status_code == 302
    data = {"csrf_token": token, "tag": path_of(tag_url)[3:], "reason": "999"}
    refused = thief.post("/unlock", data=data)
    # (a signed-out session loses its CSRF token with it: 400, or 302 to sign in)
    assert refused.status_code in (302, 400)
    assert "Allergies" not in refused.text
    assert len(events(web, "tag.unlocked")) == unlocked


def test_signing_out_on_one_phone_leaves_the_clinicians_other_phone_signed_in(web, totp):
    first = signed_in_clinician(web, totp.now())
    second = signed_in_clinician(web, totp.at(time.time() + 30))
    first.post("/signout", data={"csrf_token": csrf_from(first.get("/account").text)})
    assert first.get("/account").status_code == 302
    assert second.get("/account").status_code == 200


def test_a_session_cookie_without_a_server_side_session_is_not_signed_in(web, totp):
    # e.g. a cookie issued before this release, or one whose row was deleted
    client = signed_in_clinician(web, totp.now())
    with client.session_transaction() as s:
        s.pop("sid")
    assert client.get("/account").status_code == 302


def test_a_copied_patient_cookie_opens_nothing_after_sign_out(app, settings):
    from tagservice import keys

    keys.init_instance(settings)
    app.config["ARGON2_PARAMS"] = FAST_ARGON2
    laptop = app.test_client()
    patient_signup(laptop)
    thief = copy_of(app, laptop)
    assert thief.get("/my/account").status_code == 200
    assert thief.get("/my/summary").status_code == 200
    laptop.post("/my/signout", data={"csrf_token": csrf_from(laptop.get("/my/account").text)})
    assert thief.get("/my/account").status_code == 302
    assert thief.get("/my/summary").status_code == 302
    assert events(app, "patient.signed_out")
    # and the patient can sign in again
    assert patient_signin(app.test_client(), password=PATIENT_PASSWORD).status_code == 302


def statements_during(app, request) -> list[str]:
    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        seen.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        request()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return seen


def test_a_cookie_request_reads_the_session_in_the_one_query_that_loads_the_clinician(web, totp):
    client = signed_in_clinician(web, totp.now())
    seen = statements_during(web, lambda: client.get("/desk"))
    loading = [s for s in seen if "clinician" in s.lower()]
    assert len(loading) == 1 and "web_session" in loading[0]


def test_a_bearer_api_request_never_reads_the_session_table(web, totp, tag_url, monkeypatch):
    from tagservice.accounts import sessions

    client = web.test_client()
    body = {"email": EMAIL, "password": PASSWORD, "totp": totp.now()}
    token = client.post("/api/v1/session", json=body).get_json()["token"]
    looked_up = []
    real = sessions.signed_in
    monkeypatch.setattr(sessions, "signed_in", lambda *a: looked_up.append(a) or real(*a))
    response = web.test_client().post(
        "/api/v1/unlock",
        json={"tag": tag_url, "reason": "999"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200 and looked_up == []
