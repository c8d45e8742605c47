"""The patient portal's accounts and sessions (portal.py), and what it never leaks."""

from __future__ import annotations

import json
import logging
import re
import time

import pyotp

from tagservice import audit
from tests.helpers import FIXTURES, csrf_from, events, sign_in, unlock_form
from tests.portal_helpers import (
    PASSWORD,
    field_html,
    issued_card,
    patient_fixture,  # noqa: F401 (the fixture `patient`)
    patient_tags,
    portal_fixture,  # noqa: F401 (the fixture `portal`)
    revoke,
    scan_path,
    signin,
    signup,
    token,
    upload,
)

# --- the way in --------------------------------------------------------------------


def test_the_start_page_links_patients_to_the_portal(client):
    page = client.get("/").text
    assert 'href="/my"' in page and "For patients: make or manage your card" in page


def test_a_visitor_to_the_portal_is_offered_sign_up_and_sign_in(portal):
    page = portal.test_client().get("/my").text
    assert 'href="/my/signup"' in page and 'href="/my/signin"' in page


def test_the_sign_up_page_says_the_email_is_not_verified(portal):
    page = portal.test_client().get("/my/signup").text
    assert "We do not check your email address" in page


def test_signing_up_sends_you_to_sign_in_and_then_to_the_editor(portal):
    # (Was: signing up signed you in. Now sign-up answers alike for a taken email, so it
    # cannot sign anyone in; the new patient signs in once with the password they chose.)
    client = portal.test_client()
    response = signup(client, then_sign_in=False)
    assert response.status_code == 302
    assert response.location == "/my/signin?next=/my/summary"
    page = client.get(response.location).text
    assert "If this email was new here, your account is ready" in page
    assert 'value="pat@example.com"' in page
    after = signin(client)
    assert after.status_code == 302
    assert "Your emergency summary" in client.get("/my/summary").text


def test_sign_up_problems_are_shown_next_to_their_fields(portal):
    response = signup(portal.test_client(), password="short")
    assert response.status_code == 400
    field = field_html(response.text, "password")
    assert 'aria-invalid="true"' in field and "password-error" in field
    assert re.search(r'id="password-error">Use at least 12 characters', response.text)


def same_page(a: str, b: str) -> bool:
    """Equal but for the CSRF token and the typed email."""

    def norm(t):
        t = re.sub(r'(value|data-csrf)="[\w.-]{40,}"', "", t)
        return re.sub(r'value="[^"@]+@example.com"', "", t, flags=re.I)

    return norm(a) == norm(b)


def test_signing_up_with_a_taken_email_answers_like_a_new_one_and_changes_nothing(portal):
    # (Was: "There is already an account with this email", which told anyone who has a card.)
    new, taken = portal.test_client(), portal.test_client()
    first = signup(new, email="new@example.com", then_sign_in=False)
    signup(portal.test_client())
    again = signup(
        taken, email="PAT@example.com", password="another long password", then_sign_in=False
    )
    assert (again.status_code, again.location) == (first.status_code, first.location)
    assert same_page(new.get(first.location).text, taken.get(again.location).text)
    assert signin(portal.test_client(), password="another long password").status_code == 401
    assert signin(portal.test_client()).status_code == 302


def test_signing_in_starts_a_fresh_session_with_no_clinician_in_it(portal):
    signup(portal.test_client())
    client = portal.test_client()
    with client.session_transaction() as s:
        s.update(clinician_id=1, epoch=0, signed_in_at=int(time.time()), leftover="x")
    response = signin(client)
    assert response.status_code == 302 and response.location == "/my"
    with client.session_transaction() as s:
        assert "clinician_id" not in s and "leftover" not in s
        assert s["patient_id"] and s.permanent


def test_a_wrong_password_does_not_say_what_was_wrong(portal):
    signup(portal.test_client())
    wrong = signin(portal.test_client(), password="not the password")
    unknown = signin(portal.test_client(), email="nobody@example.com")
    assert wrong.status_code == unknown.status_code == 401
    assert "Email, password or code not recognised." in wrong.text
    assert "Email, password or code not recognised." in unknown.text


def test_sign_in_is_rate_limited(portal):
    client = portal.test_client()
    statuses = [signin(client, password="nope").status_code for _ in range(11)]
    assert statuses[-1] == 429


def test_sign_up_is_rate_limited(portal):
    client = portal.test_client()
    statuses = [signup(client, password="short").status_code for _ in range(11)]
    assert statuses[:10] == [400] * 10 and statuses[-1] == 429


def test_portal_pages_send_you_to_the_patient_sign_in_and_back(portal):
    response = portal.test_client().get("/my/card")
    assert response.status_code == 302
    assert response.location == "/my/signin?next=/my/card"


def test_a_patient_session_ends_after_the_shift_length(patient, settings):
    with patient.session_transaction() as s:
        s["patient_signed_in_at"] = int(time.time()) - settings.session_hours * 3600 - 5
    assert patient.get("/my/summary").status_code == 302


def test_signing_out_everywhere_ends_the_other_sessions(portal):
    first, second = portal.test_client(), portal.test_client()
    signup(first)
    signin(second)
    data = {"csrf_token": token(first, "/my/account")}
    assert first.post("/my/account/everywhere", data=data).status_code == 302
    assert first.get("/my/account").status_code == 200
    assert second.get("/my/account").status_code == 302


def test_a_patient_session_cannot_open_unlock_or_desk(patient, portal, tag_factory):
    url = tag_factory()
    assert patient.get("/desk").location.startswith("/signin")
    scan = patient.get(scan_path(url))
    assert scan.status_code == 200 and 'name="password"' in scan.text  # a clinician's sign-in
    assert "Jane" not in scan.text
    data = {"csrf_token": token(patient), "tag": scan_path(url)[3:], "reason": "999"}
    response = patient.post("/unlock", data=data)
    assert response.status_code == 302 and response.location.startswith("/signin")
    assert events(portal, "tag.unlocked") == []


def test_a_clinician_session_is_not_a_patient_session(portal):
    client = portal.test_client()
    sign_in(client, portal)
    assert client.get("/my/summary").location.startswith("/my/signin")


def test_every_portal_form_needs_its_csrf_token(patient):
    for path in ("/my/summary", "/my/summary/meter", "/my/card/issue", "/my/card/revoke",
                 "/my/signout", "/my/account/totp"):  # fmt: skip
        assert patient.post(path, data={"action": "save"}).status_code == 400, path


def test_two_step_sign_in_can_be_turned_on_and_is_then_required(patient, portal):
    page = patient.post("/my/account/totp", data={"csrf_token": token(patient, "/my/account")})
    secret = re.search(r"<code>([A-Z2-7 ]+)</code>", page.text).group(1).replace(" ", "")
    assert "data:image/png;base64," in page.text
    totp = pyotp.TOTP(secret)
    data = {"csrf_token": csrf_from(page.text), "code": totp.now()}
    assert patient.post("/my/account/totp/confirm", data=data).status_code == 302
    assert "On: you need a code" in patient.get("/my/account").text
    client = portal.test_client()
    assert signin(client).status_code == 401
    next_code = totp.at(time.time() + 30)
    assert signin(client, code=next_code).status_code == 302


# --- privacy ---------------------------------------------------------------------------


def test_no_patient_data_reaches_the_logs(portal, caplog):
    caplog.set_level(logging.DEBUG)
    client = portal.test_client()
    signup(client)
    url = issued_card(client, portal)
    upload(client, (FIXTURES / "fhir" / "uk-patient.json").read_bytes())
    client.get("/my/summary/export.fhir.json")
    clinician = portal.test_client()
    sign_in(clinician, portal)
    unlock_form(clinician, url)
    client.get("/my/access")
    logged = caplog.text + json.dumps([r.args for r in caplog.records], default=str)
    for secret in ("Jane", "Smith", "9434765919", "943 476 5919", "Penicillin", "Margaret",
                   "pat@example.com", PASSWORD, scan_path(url)[3:]):  # fmt: skip
        assert secret not in logged


def test_audit_events_written_by_the_portal_carry_no_patient_data(patient, portal):
    issued_card(patient, portal)
    (tag,) = patient_tags(portal)
    revoke(patient, tag.tag_id)
    for event in events(portal):
        text = json.dumps(audit.event_to_dict(event))
        assert "Jane" not in text and "pat@example.com" not in text
