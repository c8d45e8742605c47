"""One POST signs in and opens (issue 15, fewer round trips at the roadside).

A signed-out scan shows the sign-in page at the tag URL itself, with the reason
choices of the reason page; its form posts back to the tag URL, which signs in
and then runs the very rules of POST /unlock (views.open_page).
"""

from __future__ import annotations

import json
import time
from datetime import date, timedelta

import pyotp
import pytest

from tagservice.accounts import clinicians
from tagservice.store import tags
from tagservice.store.db import db
from tagservice.store.models import Clinician
from tests.helpers import (
    clinician_with_totp,
    csrf_from,
    enable_clinician_sign_in,
    events,
    path_of,
    tag_id_of,
)

EMAIL = "ann.medic@example.nhs.uk"
PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def web_app(app, settings):
    return enable_clinician_sign_in(app, settings)


@pytest.fixture
def totp(app):
    return clinician_with_totp(app, EMAIL, PASSWORD)


def open_form(client, tag_url, totp, **fields):
    """The signed-out scan's page, then its form posted with `fields` on top."""
    page = client.get(path_of(tag_url))
    assert page.status_code == 200, page.text
    form = {
        "csrf_token": csrf_from(page.text),
        "email": EMAIL,
        "password": PASSWORD,
        "code": totp.now(),
        "reason": "999",
    }
    form.update(fields)
    return client.post(path_of(tag_url), data={k: v for k, v in form.items() if v is not None})


def signed_in(client) -> bool:
    return client.get("/account").status_code == 200


def test_a_signed_out_scan_shows_sign_in_with_the_reasons_and_nothing_of_the_tag(
    client, app, settings, tag_url
):
    response = client.get(path_of(tag_url))
    assert response.status_code == 200
    text = response.text
    assert f'<form method="post" action="{path_of(tag_url)}"' in text
    for value in ("999", "ae", "other"):
        assert f'name="reason" value="{value}"' in text
    assert 'value="999" required\n    checked' in text  # the roadside default
    assert 'name="password"' in text and 'name="code"' in text
    tag_id = tag_id_of(tag_url, settings)
    assert tag_id[:4] not in text and "Jane" not in text and "superseded" not in text
    assert [json.loads(e.details)["signed_in"] for e in events(app, "tag.scanned")] == [False]
    assert events(app, "tag.unlocked") == []


def test_sign_in_reached_with_a_tag_in_next_asks_the_reason_and_posts_to_the_tag(client, tag_url):
    text = client.get("/signin", query_string={"next": path_of(tag_url)}).text
    assert f'action="{path_of(tag_url)}"' in text and 'name="reason"' in text
    plain = client.get("/signin", query_string={"next": "/account"}).text
    assert 'action="/signin"' in plain and 'name="reason"' not in plain


def test_one_post_signs_in_and_opens_the_summary_audited_with_the_reason(
    client, app, settings, tag_url, totp
):
    response = open_form(client, tag_url, totp, reason="ae")
    assert response.status_code == 200
    assert "Jane Smith" in response.text
    [unlocked] = events(app, "tag.unlocked")
    assert unlocked.reason == "ae" and unlocked.outcome == "success"
    assert unlocked.tag_id == tag_id_of(tag_url, settings)
    assert [e.outcome for e in events(app, "clinician.signed_in")] == ["success"]
    assert signed_in(client)


def test_a_failed_sign_in_opens_nothing_and_keeps_the_email_and_the_reason(
    client, app, tag_url, totp
):
    response = open_form(
        client, tag_url, totp, password="not the password", reason="other",
        reason_text="Found collapsed at the bus stop",
    )  # fmt: skip
    assert response.status_code == 401
    text = response.text
    assert f'value="{EMAIL}"' in text
    assert 'value="other" required\n    checked' in text
    assert 'value="Found collapsed at the bus stop"' in text
    assert "not the password" not in text and "Jane" not in text
    assert f'action="{path_of(tag_url)}"' in text
    assert events(app, "tag.unlocked") == [] and not signed_in(client)


def test_other_without_words_signs_in_and_asks_again_as_unlock_does(client, app, tag_url, totp):
    response = open_form(client, tag_url, totp, reason="other", reason_text="")
    assert response.status_code == 400
    assert "Say briefly why" in response.text and "Jane" not in response.text
    assert 'action="/unlock"' in response.text  # the reason page, signed in
    assert events(app, "tag.unlocked") == [] and signed_in(client)


@pytest.mark.parametrize("reason", [None, "", "bogus", "999" * 4000])
def test_a_missing_or_unknown_reason_opens_nothing_and_asks_again(
    client, app, tag_url, totp, reason
):
    response = open_form(client, tag_url, totp, reason=reason)
    assert response.status_code == 400
    assert "Choose why you are opening" in response.text and "Jane" not in response.text
    assert events(app, "tag.unlocked") == []


def test_an_expired_registration_is_refused_as_unlock_refuses_it(client, app, tag_url, totp):
    with app.app_context():
        ann = db.session.scalar(db.select(Clinician).where(Clinician.email == EMAIL))
        ann.registration_expires = date.today() - timedelta(days=1)
        db.session.commit()
    response = open_form(client, tag_url, totp)
    assert response.status_code == 403
    assert "registration has expired" in response.text and "Jane" not in response.text
    assert [json.loads(e.details)["why"] for e in events(app, "tag.unlock_denied")] == [
        "registration"
    ]


def test_an_admin_must_still_tick_the_emergency_override(client, app, tag_url):
    with app.app_context():
        _, _, uri = clinicians.add_clinician(
            "ada@example.nhs.uk", "Ada Admin", "admin", "GMC", "7123456", "Trust",
            password=PASSWORD,
        )  # fmt: skip
    totp = pyotp.parse_uri(uri)
    response = open_form(client, tag_url, totp, email="ada@example.nhs.uk")
    assert response.status_code == 403
    assert "emergency override" in response.text and 'name="override"' in response.text
    assert events(app, "tag.unlocked") == []


def test_a_receptionist_gets_the_reception_page_as_after_any_scan(client, app, tag_url):
    with app.app_context():
        _, _, uri = clinicians.add_clinician(
            "rita@example.nhs.uk", "Rita Desk", "receptionist", "", "", "Trust",
            password=PASSWORD,
        )  # fmt: skip
    response = open_form(client, tag_url, pyotp.parse_uri(uri), email="rita@example.nhs.uk")
    assert response.status_code == 200
    assert "Jane" not in response.text and "Why are you opening" not in response.text
    assert events(app, "tag.unlocked") == [] and events(app, "tag.unlock_denied") == []


def test_the_post_needs_the_csrf_token(client, app, tag_url, totp):
    response = open_form(client, tag_url, totp, csrf_token=None)
    assert response.status_code == 400
    assert "This page has expired" in response.text
    assert events(app, "tag.unlocked") == [] and not signed_in(client)


def test_a_reload_of_the_opened_summary_opens_nothing_more(client, app, tag_url, totp):
    page = client.get(path_of(tag_url))
    form = {
        "csrf_token": csrf_from(page.text), "email": EMAIL, "password": PASSWORD,
        "code": totp.now(), "reason": "999",
    }  # fmt: skip
    assert client.post(path_of(tag_url), data=form).status_code == 200
    # the browser sends the same form again: its token belonged to the signed-out session
    again = client.post(path_of(tag_url), data=form)
    assert again.status_code == 400 and "This page has expired" in again.text
    assert len(events(app, "tag.unlocked")) == 1 and signed_in(client)


def test_a_signed_in_phone_posting_with_a_valid_token_goes_to_the_reason_page(
    client, app, tag_url, totp
):
    assert open_form(client, tag_url, totp).status_code == 200
    token = csrf_from(client.get(path_of(tag_url)).text)
    again = client.post(path_of(tag_url), data={"csrf_token": token, "reason": "999"})
    assert again.status_code == 303
    assert again.headers["Location"].endswith(path_of(tag_url))
    assert len(events(app, "tag.unlocked")) == 1


def test_a_revoked_tag_is_refused_after_sign_in(client, app, settings, tag_url, totp):
    page = client.get(path_of(tag_url))
    with app.app_context():
        tags.revoke_tag(tag_id_of(tag_url, settings), "card lost")
    form = {
        "csrf_token": csrf_from(page.text), "email": EMAIL, "password": PASSWORD,
        "code": totp.now(), "reason": "999",
    }  # fmt: skip
    response = client.post(path_of(tag_url), data=form)
    assert response.status_code == 410 and "cancelled by its owner" in response.text
    assert events(app, "tag.unlocked") == []


@pytest.mark.parametrize(
    "fields",
    [
        {"email": "a" * 100_000},
        {"password": "p" * 100_000},
        {"code": "1" * 10_000},
        {"reason_text": "r" * 100_000},
        {"reason_text": "nul\x00byte"},
        {"email": "ann\x00@example.nhs.uk"},
        {"reason": "\x00"},
    ],
    ids=["huge email", "huge password", "huge code", "huge details", "NUL details",
         "NUL email", "NUL reason"],
)  # fmt: skip
def test_hostile_fields_get_a_clear_answer_never_a_500(client, app, tag_url, totp, fields):
    response = open_form(client, tag_url, totp, **fields)
    assert response.status_code in (400, 401, 413)
    assert "Traceback" not in response.text and "Jane" not in response.text
    assert events(app, "tag.unlocked") == []


def test_a_tampered_tag_url_signs_in_but_shows_the_invalid_tag_page(client, app, tag_url, totp):
    tampered = path_of(tag_url)[:-6] + "AAAAAA"
    token = csrf_from(client.get(path_of(tag_url)).text)
    form = {
        "csrf_token": token, "email": EMAIL, "password": PASSWORD, "code": totp.now(),
        "reason": "999",
    }  # fmt: skip
    response = client.post(tampered, data=form)
    assert response.status_code == 400 and "not a valid" in response.text.lower()
    assert events(app, "tag.unlocked") == []


def test_unlocks_at_sign_in_count_in_the_per_clinician_unlock_limit(client, app, tag_url, totp):
    # Given Ann has opened 60 summaries this hour: one at sign-in, 59 through POST /unlock
    assert open_form(client, tag_url, totp).status_code == 200
    for _ in range(59):
        token = csrf_from(client.get(path_of(tag_url)).text)
        form = {"csrf_token": token, "tag": path_of(tag_url)[3:], "reason": "999"}
        assert client.post("/unlock", data=form).status_code == 200
    # When she signs out and signs in from a tag again (a fresh code)
    client.post("/signout", data={"csrf_token": token})
    assert not signed_in(client)
    next_code = totp.at(time.time() + 30)
    response = open_form(client, tag_url, totp, code=next_code)
    # Then the 61st opening is refused like the 61st POST /unlock
    assert response.status_code == 429
    assert "Jane" not in response.text
    assert len(events(app, "tag.unlocked")) == 60


def test_the_request_limit_at_the_tag_url_says_what_to_do_now(client, app, tag_url, totp):
    client.environ_base["REMOTE_ADDR"] = "203.0.113.31"
    # ten different emails: the per-email throttle never starts, the request limit does
    codes = [
        open_form(client, tag_url, totp, email=f"nobody{n}@example.nhs.uk").status_code
        for n in range(11)
    ]
    assert codes == [401] * 10 + [429]
    last = open_form(client, tag_url, totp)
    assert last.status_code == 429 and "Jane" not in last.text
    assert "<h1>Too many attempts</h1>" in last.text
    assert "control room or clinical hub" in last.text
    assert events(app, "tag.unlocked") == []
