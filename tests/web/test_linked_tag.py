"""Linked tags (format v2) through the service: issue, scan, sign in, unlock, update, revoke."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from tagservice import audit, crypto, keys, linked
from tagservice.store import linked_tags
from tagservice.store.db import db
from tagservice.store.models import LinkedTag, Tag
from tests.helpers import (
    FAST_ARGON2,
    clinician_with_totp,
    csrf_from,
    enable_clinician_sign_in,
    events,
    fixture,
    sign_in,
)

MEDIC_EMAIL = "ann.medic@example.nhs.uk"
MEDIC_PASSWORD = "correct horse battery"  # noqa: S105 - a test account


@pytest.fixture
def issue_linked(app, settings):
    keys.init_instance(settings)
    app.config["ARGON2_PARAMS"] = FAST_ARGON2

    def make(name="summary-typical.json", summary=None):
        with app.app_context():
            return linked_tags.issue(
                summary or fixture(name), keys.load_keyset(settings), settings.base_url,
                datetime.now(UTC),
            )  # fmt: skip

    return make


def path_of(url: str) -> str:
    return url[url.index("/L/") :]


def card_key_of(url: str) -> bytes:
    return linked.decode_payload(url)


def unlock(client, url, **form):
    page = client.get(path_of(url))
    assert page.status_code == 200, page.text
    data = {"csrf_token": csrf_from(page.text), "tag": path_of(url)[3:], "reason": "999"}
    return client.post("/unlock", data=data | form)


def update(app, settings, url, summary):
    with app.app_context():
        return linked_tags.update(url, summary, keys.load_keyset(settings), datetime.now(UTC))


def _details(event) -> dict:
    return json.loads(event.details) if isinstance(event.details, str) else event.details


def everything_stored(app) -> bytes:
    """Every row of every table as text: what a stolen database would hold."""
    with app.app_context():
        dump = []
        for table in db.metadata.sorted_tables:
            for row in db.session.execute(select(table)):
                dump.append(repr(tuple(row)))
        return "\n".join(dump).encode()


# ------------------------------------------------------------------ scanning and unlocking


def test_a_signed_in_clinician_unlocks_a_linked_tag_after_the_audit_event(
    client, app, issue_linked
):
    issued = issue_linked()
    sign_in(client, app)
    page = client.get(path_of(issued.url))
    assert page.status_code == 200 and "Why are you opening" in page.text
    assert "Jane Smith" not in page.text  # not decrypted before the reason
    response = unlock(client, issued.url)
    assert response.status_code == 200
    assert "Jane Smith" in response.text
    assert "ANAPHYLAXIS: Penicillin" in response.text
    [event] = events(app, "tag.unlocked")
    assert (event.tag_id, event.outcome, event.reason) == (issued.tag_id, "success", "999")
    with app.app_context():
        assert audit.verify_chain().ok


def test_nothing_is_decrypted_when_the_unlock_audit_write_fails(
    client, app, issue_linked, monkeypatch
):
    issued = issue_linked()
    sign_in(client, app)
    page = client.get(path_of(issued.url))
    real = audit.record_event

    def failing(kind, **kw):
        if kind == audit.EventKind.TAG_UNLOCKED:
            raise audit.AuditWriteError("disk full")
        return real(kind, **kw)

    opened = []
    monkeypatch.setattr(audit, "record_event", failing)
    monkeypatch.setattr(linked, "open_record", lambda *a, **k: opened.append(1))
    response = client.post(
        "/unlock",
        data={"csrf_token": csrf_from(page.text), "tag": path_of(issued.url)[3:], "reason": "999"},
    )
    assert response.status_code == 503
    assert opened == []
    assert "Jane Smith" not in response.text


def test_the_api_unlocks_a_linked_tag_url(client, app, issue_linked, settings):
    from tagservice.store.models import Clinician
    from tagservice.web import auth

    issued = issue_linked()
    cid = sign_in(client, app)
    with app.test_request_context():
        token = auth.issue_api_token(db.session.get(Clinician, cid))[0]
    response = client.post(
        "/api/v1/unlock",
        json={"tag": issued.url, "reason": "ae"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.json
    assert response.json["summary"]["identity"]["name"] == "Jane Smith"
    assert response.json["tag"]["id"] == issued.tag_id


def test_a_lower_case_linked_url_opens_the_same_card(client, app, issue_linked):
    issued = issue_linked()
    sign_in(client, app)
    assert client.get(path_of(issued.url).lower()).status_code == 200


def test_a_well_formed_but_unknown_card_key_is_a_clear_invalid_tag_page(client, app, issue_linked):
    issue_linked()
    response = client.get("/L/" + linked.encode_payload(bytes(16)))
    assert response.status_code == 400
    assert "not known to this service" in response.text
    assert [e.outcome for e in events(app, "tag.rejected")] == ["failed"]


@pytest.mark.parametrize("payload", ["1" * 38, "1" * 40, "9" * 39, "٣" * 39, "ABCDEFGH" * 5])
def test_a_linked_path_with_another_spelling_is_refused_before_any_lookup(
    client, app, issue_linked, payload, monkeypatch
):
    issue_linked()
    looked_up = []
    monkeypatch.setattr(linked_tags, "_stored", lambda *a: looked_up.append(1))
    response = client.get(f"/L/{payload}")
    assert response.status_code == 400
    assert looked_up == []


# ------------------------------------------------------------------ the URL is the key


@pytest.fixture
def medic(app, settings):
    """Ann Medic can sign in with password and code (set up before the instance's keys)."""
    enable_clinician_sign_in(app, settings)
    return clinician_with_totp(app, MEDIC_EMAIL, MEDIC_PASSWORD)


def test_signed_out_scan_is_the_sign_in_page_at_the_same_url_and_one_post_opens(
    client, app, medic, issue_linked
):
    issued = issue_linked()
    path = path_of(issued.url)
    digits = path[3:]
    page = client.get(path)
    # the sign-in page itself, asking why too: no redirect or query carries the card key on
    assert page.status_code == 200 and "Location" not in page.headers
    assert f'<form method="post" action="{path}"' in page.text
    assert 'name="reason" value="999"' in page.text and "Jane" not in page.text
    with client.session_transaction() as session:
        assert digits not in json.dumps(dict(session), default=str)
    form = {"csrf_token": csrf_from(page.text), "email": MEDIC_EMAIL,
            "password": MEDIC_PASSWORD, "code": medic.now(), "reason": "999"}  # fmt: skip
    opened = client.post(path, data=form)
    assert opened.status_code == 200 and "Jane Smith" in opened.text
    [event] = events(app, "tag.unlocked")
    assert event.reason == "999" and event.tag_id == issued.tag_id


def test_a_failed_sign_in_at_a_linked_url_opens_nothing_and_keeps_the_reason(
    client, app, medic, issue_linked
):
    path = path_of(issue_linked().url)
    page = client.get(path)
    form = {"csrf_token": csrf_from(page.text), "email": MEDIC_EMAIL, "password": "wrong",
            "code": medic.now(), "reason": "ae"}  # fmt: skip
    refused = client.post(path, data=form)
    assert refused.status_code == 401
    assert f'action="{path}"' in refused.text  # the retry posts to the same card
    assert f'value="{MEDIC_EMAIL}"' in refused.text
    assert re.search(r'value="ae"[^>]*\bchecked', refused.text)
    assert "Jane Smith" not in refused.text and events(app, "tag.unlocked") == []


def test_the_card_key_is_never_stored_in_the_database_or_the_audit_trail(
    client, app, issue_linked, settings
):
    issued = issue_linked()
    sign_in(client, app)
    unlock(client, issued.url)
    update(app, settings, issued.url, fixture("summary-typical.json"))
    stored = everything_stored(app)
    card_key = card_key_of(issued.url)
    assert card_key not in stored
    assert card_key.hex().encode() not in stored
    assert path_of(issued.url)[3:].encode() not in stored
    assert b"Jane Smith" not in stored


def test_a_server_error_log_redacts_the_linked_path(client, app, issue_linked, caplog, monkeypatch):
    issued = issue_linked()

    def broken(*a, **k):
        raise RuntimeError("boom")

    monkeypatch.setattr(linked_tags, "read", broken)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    with caplog.at_level(logging.ERROR):
        response = client.get(path_of(issued.url))
    assert response.status_code == 500
    digits = path_of(issued.url)[3:]
    assert digits not in caplog.text
    assert digits not in response.text


def test_scan_pages_of_linked_tags_send_no_referrer(client, app, issue_linked):
    issued = issue_linked()
    sign_in(client, app)
    response = client.get(path_of(issued.url))
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"


# ------------------------------------------------------------------ status: revoke, expiry


def test_a_revoked_linked_tag_is_refused_and_never_decrypted(client, app, issue_linked):
    from tagservice.store import tags

    issued = issue_linked()
    with app.app_context():
        tags.revoke_tag(issued.tag_id, "lost")
    sign_in(client, app)
    response = client.get(path_of(issued.url))
    assert response.status_code == 410
    assert "cancelled" in response.text
    assert [_details(e)["why"] for e in events(app, "tag.unlock_denied")] == ["revoked"]


def test_retiring_the_reader_key_expires_linked_tags_like_v1_tags(
    client, app, issue_linked, settings
):
    issued = issue_linked()
    with app.app_context():
        ring = keys.load_keyring(settings)
        kek = keys.load_kek(settings)
        ring, _ = ring.add(keys.READER, kek, datetime.now(UTC))
        reader = ring.by_kid(db.session.get(LinkedTag, issued.tag_id).reader_kid)
        keys.save_keyring(settings, ring.retire(reader.kid, datetime.now(UTC)))
    sign_in(client, app)
    response = client.get(path_of(issued.url))
    assert response.status_code == 410
    assert "expired" in response.text.lower() or "retired" in response.text.lower()


# ------------------------------------------------------------------ update without reprinting


def test_an_update_changes_the_summary_behind_the_same_url_and_is_audited(
    client, app, issue_linked, settings
):
    issued = issue_linked()
    changed = fixture("summary-typical.json")
    changed["identity"]["name"] = "Jane Changed"
    row = update(app, settings, issued.url, changed)
    assert row.revision == 2
    [event] = events(app, "tag.updated")
    assert (event.tag_id, _details(event)["revision"]) == (issued.tag_id, 2)
    sign_in(client, app)
    response = unlock(client, issued.url)  # the very same URL
    assert "Jane Changed" in response.text


def test_only_the_card_can_update_its_summary(app, issue_linked, settings):
    issued = issue_linked()
    with pytest.raises(crypto.InvalidTag):
        update(app, settings, linked.tag_url(settings.base_url, bytes(16)), fixture(
            "summary-typical.json"))
    with pytest.raises(crypto.InvalidTag):  # the printed tag id is not the card
        update(app, settings, issued.tag_id, fixture("summary-typical.json"))
    assert events(app, "tag.updated") == []


def test_a_revoked_card_cannot_be_updated(app, issue_linked, settings):
    from tagservice.store import tags

    issued = issue_linked()
    with app.app_context():
        tags.revoke_tag(issued.tag_id, "lost")
    with pytest.raises(linked_tags.UpdateRefused, match="revoked"):
        update(app, settings, issued.url, fixture("summary-typical.json"))


def test_a_patient_cannot_update_a_card_issued_to_another_account(app, issue_linked, settings):
    from tagservice.store.models import Patient

    issued = issue_linked()
    with app.app_context():
        other = Patient(email="finder@example.com", password_hash="x", totp_secret_enc="x")
        db.session.add(other)
        db.session.commit()
        with pytest.raises(linked_tags.UpdateRefused, match="not issued to your account"):
            linked_tags.update(issued.url, fixture("summary-typical.json"),
                               keys.load_keyset(settings), datetime.now(UTC), patient=other)


def test_a_linked_tag_is_registered_like_a_v1_tag(app, issue_linked):
    issued = issue_linked()
    with app.app_context():
        tag = db.session.get(Tag, issued.tag_id)
        row = db.session.get(LinkedTag, issued.tag_id)
        assert tag.status == "active" and tag.reader_kid == row.reader_kid
        assert row.revision == 1


def test_a_desk_scan_of_a_linked_card_asks_why_and_then_unlocks(client, app, issue_linked):
    issued = issue_linked()
    sign_in(client, app, role="nurse", register="NMC", registration_number="12A3456E")
    desk = client.get("/desk")
    page = client.post("/desk", data={"csrf_token": csrf_from(desk.text), "tag": issued.url})
    assert page.status_code == 200 and "Why are you opening" in page.text
    tag = re.search(r'name="tag" value="([^"]+)"', page.text).group(1)
    assert tag == path_of(issued.url)[3:]
    form = {"csrf_token": csrf_from(page.text), "tag": tag, "reason": "ae", "at": "desk"}
    opened = client.post("/unlock", data=form)
    assert opened.status_code == 200 and "Jane Smith" in opened.text


def test_a_damaged_linked_url_at_the_desk_says_why(client, app, issue_linked):
    issued = issue_linked()
    sign_in(client, app)
    desk = client.get("/desk")
    damaged = issued.url[:-1]
    page = client.post("/desk", data={"csrf_token": csrf_from(desk.text), "tag": damaged})
    assert page.status_code == 400
    assert "Only part of the tag was read" in page.text


def test_a_missing_reason_on_a_linked_unlock_shows_the_reason_page_again(client, app, issue_linked):
    issued = issue_linked()
    sign_in(client, app)
    response = unlock(client, issued.url, reason="")
    assert response.status_code == 400
    assert "Why are you opening" in response.text and "Jane Smith" not in response.text


def test_an_update_between_scan_and_unlock_shows_the_newest_signed_summary(
    client, app, issue_linked, settings
):
    issued = issue_linked()
    sign_in(client, app)
    page = client.get(path_of(issued.url))
    changed = fixture("summary-typical.json")
    changed["identity"]["name"] = "Jane Newest"
    update(app, settings, issued.url, changed)
    form = {"csrf_token": csrf_from(page.text), "tag": path_of(issued.url)[3:], "reason": "999"}
    response = client.post("/unlock", data=form)
    assert "Jane Newest" in response.text


def test_a_database_outage_at_a_linked_scan_says_to_treat_the_patient_as_unknown(
    client, app, issue_linked, monkeypatch
):
    from sqlalchemy.exc import OperationalError

    issued = issue_linked()
    sign_in(client, app)

    def down(*a, **k):
        raise OperationalError("SELECT", (), Exception())

    monkeypatch.setattr(linked_tags, "_stored", down)
    response = client.get(path_of(issued.url))
    assert response.status_code == 503
    assert "treat as unknown" in response.text.lower()
    assert f'href="{path_of(issued.url)}"' in response.text  # "Try again": the same card

