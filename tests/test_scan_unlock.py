"""Scan → sign in → reason → audited unlock, through the Flask test client."""

from __future__ import annotations

import json
import logging
from datetime import date, timedelta

import pytest

from tagservice import audit, crypto, tags, unlock
from tests.helpers import csrf_from, events, path_of, sign_in, tag_id_of, unlock_form

# ------------------------------------------------------------------ scanning


def test_damaged_tag_shows_the_friendly_invalid_page_and_is_audited(client, app, tag_url):
    broken = path_of(tag_url)[:-6] + "AAAAAA"
    response = client.get(broken)
    assert response.status_code == 400
    assert "not a valid" in response.text.lower()
    assert "Traceback" not in response.text
    assert [e.outcome for e in events(app, "tag.rejected")] == ["failed"]


def test_scan_when_signed_out_goes_to_sign_in_and_comes_back(client, tag_url):
    response = client.get(path_of(tag_url))
    assert response.status_code == 302
    assert "/signin?next=" in response.location
    assert "%2FT%2F" in response.location or "/T/" in response.location


def test_lower_case_route_and_payload_are_accepted(client, app, tag_url):
    sign_in(client, app)
    assert client.get(path_of(tag_url).lower()).status_code == 200


def test_signed_in_scan_asks_for_a_reason_without_decrypting(client, app, tag_url):
    sign_in(client, app)
    response = client.get(path_of(tag_url))
    assert response.status_code == 200
    assert "Why are you opening" in response.text
    assert "Jane Smith" not in response.text
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


# ------------------------------------------------------------------ unlocking


def test_unlock_shows_critical_alerts_first_and_commits_the_audit_event(
    client, app, tag_url, settings
):
    sign_in(client, app)
    response = unlock_form(client, tag_url, reason="999")
    assert response.status_code == 200
    page = response.text
    assert "Jane Smith" in page
    assert page.index("ANAPHYLAXIS: Penicillin") < page.index("Allergies")
    assert page.index("ANTICOAGULANT: Warfarin") < page.index("Medication")
    assert 'href="tel:07700900123"' in page
    [event] = events(app, "tag.unlocked")
    assert (event.reason, event.outcome, event.registration) == ("999", "success", "HCPC PA12345")
    assert event.tag_id == tag_id_of(tag_url, settings)
    assert "Jane" not in json.dumps(event.details)
    with app.app_context():
        assert audit.verify_chain().ok


def test_audit_commit_failure_shows_nothing(client, app, tag_url, monkeypatch):
    sign_in(client, app)
    page = client.get(path_of(tag_url))
    real = audit.record_event

    def failing(kind, **kw):
        if kind == audit.EventKind.TAG_UNLOCKED:
            raise audit.AuditWriteError("disk full")
        return real(kind, **kw)

    monkeypatch.setattr(audit, "record_event", failing)
    opened = []
    monkeypatch.setattr(crypto, "open_tag", lambda *a, **k: opened.append(1))
    monkeypatch.setattr(crypto, "open_verified", lambda *a, **k: opened.append(1))
    response = client.post(
        "/unlock",
        data={"csrf_token": csrf_from(page.text), "tag": path_of(tag_url)[3:], "reason": "999"},
    )
    assert response.status_code == 503
    assert "Jane" not in response.text and "Penicillin" not in response.text
    assert opened == [], "nothing may be decrypted when the audit write failed"


def test_unlock_without_csrf_token_is_refused(client, app, tag_url):
    sign_in(client, app)
    response = client.post("/unlock", data={"tag": path_of(tag_url)[3:], "reason": "999"})
    assert response.status_code == 400
    assert "Jane" not in response.text


def test_revoked_tag_is_refused_on_scan_and_on_unlock(client, app, tag_url, settings):
    sign_in(client, app)
    page = client.get(path_of(tag_url))
    with app.app_context():
        tags.revoke_tag(tag_id_of(tag_url, settings), "card lost")
    assert client.get(path_of(tag_url)).status_code == 410
    response = client.post(
        "/unlock",
        data={"csrf_token": csrf_from(page.text), "tag": path_of(tag_url)[3:], "reason": "999"},
    )
    assert response.status_code == 410
    assert "cancelled" in response.text and "Jane" not in response.text


def test_clinician_with_expired_registration_cannot_unlock(client, app, tag_url):
    sign_in(client, app, registration_expires=date.today() - timedelta(days=1))
    response = unlock_form(client, tag_url)
    assert response.status_code == 403
    assert "registration has expired" in response.text
    assert "Jane" not in response.text
    assert [e.outcome for e in events(app, "tag.unlock_denied")] == ["denied"]


def test_suspended_clinician_is_signed_out_and_cannot_reach_the_reason_step(client, app, tag_url):
    sign_in(client, app, status="suspended")
    assert client.get(path_of(tag_url)).status_code == 302


def test_superseded_tag_opens_with_a_clear_warning(client, app, tag_factory):
    old = tag_factory()
    tag_factory("summary-heavy.json", supersede=tag_id_of(old, app.config["TAGSERVICE"]))
    sign_in(client, app)
    response = unlock_form(client, old)
    assert response.status_code == 200
    assert "replaced by a newer one" in response.text


def test_other_reason_needs_words_and_is_flagged_for_review(client, app, tag_url):
    sign_in(client, app)
    response = unlock_form(client, tag_url, reason="other")
    assert response.status_code == 400 and "Say briefly why" in response.text
    response = unlock_form(client, tag_url, reason="other", reason_text="welfare check")
    assert response.status_code == 200 and "flagged for review" in response.text
    [event] = events(app, "tag.unlocked")
    assert event.reason == "break-glass" and event.reason_text == "welfare check"


def test_admin_needs_the_emergency_override_and_is_flagged(client, app, tag_url):
    sign_in(client, app, role="admin", register="GMC", registration_number="1234567")
    response = unlock_form(client, tag_url, reason="ae", reason_text="patient collapsed")
    assert response.status_code == 403 and "emergency override" in response.text
    response = unlock_form(
        client, tag_url, reason="ae", reason_text="patient collapsed", override="yes"
    )
    assert response.status_code == 200
    [event] = events(app, "tag.unlocked")
    assert event.reason == "break-glass"


@pytest.mark.parametrize("role,reason", [("paramedic", "999"), ("nurse", "ae"), ("doctor", "ae")])
def test_clinical_roles_open_routinely_for_999_and_ae(role, reason):
    assert unlock.classify_reason(role, reason, "", False) is False


def test_desk_scanner_input_goes_straight_to_the_reason_step(client, app, tag_url):
    sign_in(client, app, role="nurse", register="NMC", registration_number="12A3456E")
    desk = client.get("/desk")
    assert desk.status_code == 200 and "autofocus" in desk.text
    # A USB scan gun types the URL and presses Enter: one form post.
    response = client.post(
        "/desk", data={"csrf_token": csrf_from(desk.text), "tag": tag_url + "\r"}
    )
    assert response.status_code == 200
    assert "Why are you opening" in response.text
    bad = client.post("/desk", data={"csrf_token": csrf_from(desk.text), "tag": "hello"})
    assert bad.status_code == 400 and "autofocus" in bad.text


def test_no_patient_data_in_any_log_line_during_a_full_flow(client, app, tag_url, caplog):
    caplog.set_level(logging.DEBUG)
    sign_in(client, app)
    unlock_form(client, tag_url)
    client.get(path_of(tag_url)[:-4] + "AAAA")
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for secret in (
        "Jane",
        "Smith",
        "Penicillin",
        "Warfarin",
        "9434765919",
        "07700",
        path_of(tag_url)[3:],
    ):
        assert secret not in logged


def test_every_scan_is_audited_with_who_scanned_it(client, app, tag_url, settings):
    client.get(path_of(tag_url))  # signed out: recorded, then sent to sign in
    clinician_id = sign_in(client, app)
    client.get(path_of(tag_url))
    scans = events(app, "tag.scanned")
    assert [e.actor_id for e in scans] == [None, str(clinician_id)]
    assert {e.tag_id for e in scans} == {tag_id_of(tag_url, settings)}


@pytest.mark.parametrize("given,shown", [("pl", "Polish (pl)"), ("en-NZ", "English (en-NZ)"),
                                         ("Polish", "Polish"), (None, None)])
def test_preferred_language_code_is_shown_by_name(given, shown):
    from tagservice.summary_view import language_name

    assert language_name(given) == shown
