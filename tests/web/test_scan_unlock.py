"""Scan → sign in → reason → audited unlock, through the Flask test client."""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from tagservice import audit, crypto, keys, unlock
from tagservice.store import tags
from tagservice.store.db import db
from tests.helpers import (
    csrf_from,
    events,
    fixture,
    path_of,
    sign_in,
    tag_id_of,
    unlock_form,
)

# ------------------------------------------------------------------ scanning


def test_damaged_tag_shows_the_friendly_invalid_page_and_is_audited(client, app, tag_url):
    broken = path_of(tag_url)[:-6] + "AAAAAA"
    response = client.get(broken)
    assert response.status_code == 400
    assert "not a valid" in response.text.lower()
    assert "Traceback" not in response.text
    assert [e.outcome for e in events(app, "tag.rejected")] == ["failed"]


def test_scan_when_signed_out_shows_the_sign_in_page_that_posts_back_to_the_tag(client, tag_url):
    response = client.get(path_of(tag_url))
    assert response.status_code == 200
    assert f'<form method="post" action="{path_of(tag_url)}"' in response.text
    assert 'name="password"' in response.text and "Jane" not in response.text


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


def fail_the_unlock_audit_write(monkeypatch) -> None:
    """Make the audit write of an unlock fail as a full disk would; other events still write."""
    real = audit.record_event

    def failing(kind, **kw):
        if kind == audit.EventKind.TAG_UNLOCKED:
            raise audit.AuditWriteError("disk full")
        return real(kind, **kw)

    monkeypatch.setattr(audit, "record_event", failing)


def test_audit_commit_failure_shows_nothing(client, app, tag_url, monkeypatch):
    sign_in(client, app)
    page = client.get(path_of(tag_url))
    fail_the_unlock_audit_write(monkeypatch)
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
    response = client.get(path_of(tag_url))
    assert 'name="password"' in response.text
    assert 'action="/unlock"' not in response.text  # signed out: not the reason page


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
    from tagservice.summary.display import language_name

    assert language_name(given) == shown


# ------------------------------------------------------------------ reader keys


def _retire_reader_key_in_the_ring_only(settings, destroy: bool = False) -> str:
    """Rotate the reader key and retire (or destroy) the old one, leaving the tag register
    untouched (as after a restore of the register, or a ring copied from another host)."""
    kek = keys.load_kek(settings)
    ring = keys.load_keyring(settings)
    old = ring.newest(keys.READER).kid
    ring, _ = ring.add(keys.READER, kek, datetime.now(UTC))
    ring = ring.retire(old, datetime.now(UTC))
    keys.save_keyring(settings, ring.destroy(old, datetime.now(UTC)) if destroy else ring)
    return old


@pytest.mark.parametrize(
    "destroy,words,why",
    [(False, "new card", "reader_key_retired"), (True, "reissued", "reader_key_destroyed")],
    ids=["retired", "destroyed"],
)
def test_a_tag_whose_reader_key_is_retired_is_refused_as_expired_before_any_unlock_audit(
    client, app, tag_url, settings, destroy, words, why
):
    # Given a signed-in paramedic on the reason page of an active, registered tag
    sign_in(client, app)
    page = client.get(path_of(tag_url))
    assert page.status_code == 200
    # When the tag's reader key is retired (or destroyed) and she submits the unlock
    _retire_reader_key_in_the_ring_only(settings, destroy)
    data = {"csrf_token": csrf_from(page.text), "tag": path_of(tag_url)[3:], "reason": "999"}
    response = client.post("/unlock", data=data)
    # Then the card is refused as expired, and no unlock was ever audited as a success
    assert response.status_code == 410
    assert words in response.text
    assert "Jane" not in response.text
    assert events(app, "tag.unlocked") == []
    assert [e.details for e in events(app, "tag.unlock_denied")] == [f'{{"why":"{why}"}}']
    assert client.get(path_of(tag_url)).status_code == 410, "the scan page refuses it too"


def test_the_api_refuses_a_tag_whose_reader_key_is_retired_without_auditing_an_unlock(
    app, tag_url, settings
):
    _retire_reader_key_in_the_ring_only(settings)
    with app.test_request_context(), pytest.raises(unlock.UnlockRefused) as refused:
        unlock.unlock(tag_url, _paramedic(app), reason="999")
    assert (refused.value.status, refused.value.error) == (410, "expired")
    assert events(app, "tag.unlocked") == []


def test_a_tag_sealed_to_a_reader_key_this_service_never_had_is_invalid_at_the_scan(
    client, app, settings, tag_factory
):
    # Given a tag our issuer signed but sealed to a reader key not in the ring
    tag_factory()  # initialises the instance's keys
    with app.app_context():
        ours = keys.load_keyset(settings)
    stranger = X25519PrivateKey.generate().public_key()
    odd = crypto.KeySet(
        ours.issuers, {}, ours.signing, (crypto.kid_of(stranger), stranger)
    )
    url = crypto.tag_url(settings.base_url, crypto.seal(fixture("summary-typical.json"), odd,
                                                        datetime.now(UTC)))
    sign_in(client, app)
    # Then the scan refuses it as invalid, before a reason is even asked
    response = client.get(path_of(url))
    assert response.status_code == 400
    assert [e.details for e in events(app, "tag.rejected")] == ['{"error":"UnknownKey"}']
    assert events(app, "tag.unlocked") == []


def _paramedic(app):
    from tagservice.store.models import Clinician

    with app.app_context():
        clinician = Clinician(
            email="p@example.nhs.uk", name="P", role="paramedic", register="HCPC",
            registration_number="PA1", organisation="Example", status="active",
        )  # fmt: skip
        db.session.add(clinician)
        db.session.commit()
        db.session.refresh(clinician)
        db.session.expunge(clinician)
    return clinician


def test_the_unavailable_page_after_an_unlock_retries_the_tag_page(
    client, app, tag_url, monkeypatch
):
    sign_in(client, app)
    page = client.get(path_of(tag_url))
    fail_the_unlock_audit_write(monkeypatch)
    payload = path_of(tag_url)[3:]
    response = client.post(
        "/unlock", data={"csrf_token": csrf_from(page.text), "tag": payload, "reason": "999"}
    )
    assert response.status_code == 503
    assert f'href="/T/{payload}"' in response.text
    assert "Try again" in response.text
