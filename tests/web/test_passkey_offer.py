"""After a password sign-in, a dismissible offer to add a passkey (issue 15, roadside sign-in)."""

from __future__ import annotations

import pytest

from tagservice.store.db import db
from tagservice.store.models import Clinician, Passkey
from tests.helpers import clinician_with_totp, csrf_from, enable_clinician_sign_in, path_of

EMAIL = "ann.medic@example.nhs.uk"
PASSWORD = "correct horse battery"
OFFER = "Sign in with one touch next time"


@pytest.fixture(autouse=True)
def web_app(app, settings):
    return enable_clinician_sign_in(app, settings)


@pytest.fixture
def totp(app):
    return clinician_with_totp(app, EMAIL, PASSWORD)


def password_sign_in(client, totp, next_url=None):
    token = csrf_from(client.get("/signin").text)
    form = {"csrf_token": token, "email": EMAIL, "password": PASSWORD, "code": totp.now()}
    if next_url:
        form["next"] = next_url
    response = client.post("/signin", data=form)
    assert response.status_code == 302, response.text
    return response


def test_a_password_sign_in_offers_a_passkey_on_the_next_page(client, totp):
    landing = password_sign_in(client, totp).headers["Location"]
    page = client.get(landing).text
    assert OFFER in page and 'href="/passkeys/new"' in page
    assert 'action="/passkeys/offer/dismiss"' in page


def test_the_offer_sits_below_the_tags_reason_form(client, app, totp, tag_url):
    password_sign_in(client, totp, next_url=path_of(tag_url))
    page = client.get(path_of(tag_url)).text
    assert page.index("Open summary") < page.index(OFFER)


def test_not_now_dismisses_the_offer_and_returns_to_the_page(client, totp):
    password_sign_in(client, totp)
    page = client.get("/account").text
    token = csrf_from(page)
    response = client.post(
        "/passkeys/offer/dismiss", data={"csrf_token": token, "next": "/account"}
    )
    assert response.status_code == 302 and response.headers["Location"] == "/account"
    assert OFFER not in client.get("/account").text


def test_dismissing_never_redirects_off_the_site(client, totp):
    password_sign_in(client, totp)
    token = csrf_from(client.get("/account").text)
    form = {"csrf_token": token, "next": "//evil.example/x"}
    response = client.post("/passkeys/offer/dismiss", data=form)
    assert response.headers["Location"] == "/account"


def test_no_offer_for_a_clinician_who_has_a_passkey(client, app, totp):
    with app.app_context():
        clinician = db.session.scalar(db.select(Clinician).where(Clinician.email == EMAIL))
        db.session.add(Passkey(clinician_id=clinician.id, credential_id=b"c", public_key=b"k"))
        db.session.commit()
    password_sign_in(client, totp)
    assert OFFER not in client.get("/account").text


def test_the_offer_goes_once_the_add_a_passkey_page_is_opened(client, totp):
    password_sign_in(client, totp)
    assert OFFER in client.get("/account").text
    assert client.get("/passkeys/new").status_code == 200
    assert OFFER not in client.get("/account").text


def test_a_summary_page_never_carries_the_offer(client, totp, tag_url):
    password_sign_in(client, totp, next_url=path_of(tag_url))
    reason = client.get(path_of(tag_url)).text
    form = {"csrf_token": csrf_from(reason), "tag": path_of(tag_url)[3:], "reason": "999"}
    summary = client.post("/unlock", data=form)
    assert summary.status_code == 200 and "ANAPHYLAXIS" in summary.text
    assert OFFER not in summary.text


def test_signed_out_pages_have_no_offer(client):
    assert OFFER not in client.get("/signin").text


def test_the_offer_is_hidden_until_the_device_says_it_has_a_built_in_authenticator(client, totp):
    landing = password_sign_in(client, totp).headers["Location"]
    page = client.get(landing).text
    aside = page[page.index('<aside class="card stack" aria-labelledby="passkey-offer-heading"') :]
    aside = aside[: aside.index("</aside>")]
    assert aside[: aside.index(">")].endswith(" hidden")  # without script: nothing shows
    assert "/static/builtin-passkey.js?v=" in aside
