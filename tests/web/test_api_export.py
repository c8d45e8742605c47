"""The JSON API's FHIR IPS export: the desk's rule (web/export_access.py) behind a bearer token.

Only the clinician who opened that tag through the API in the last 15 minutes may export it;
the export is audited as tag.exported, committed before the summary is decrypted again.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from fhir.resources.R4B.bundle import Bundle

from tagservice.accounts import clinicians
from tagservice.audit import AuditWriteError, EventKind
from tagservice.store import tags
from tagservice.store.db import db
from tagservice.store.models import AuditEvent, Clinician
from tagservice.web import auth, export_access
from tests.helpers import events, tag_id_of

EXPORT = "/api/v1/export/fhir"


def api_token(app, email: str, role: str = "paramedic") -> str:
    """A bearer token for a new account, as POST /api/v1/session would give it."""
    registration = ("", "") if role == "receptionist" else ("HCPC", "PA12345")
    with app.app_context():
        made, _, _ = clinicians.add_clinician(
            email, "Pat Medic", role, *registration, "Example Ambulance Service",
            password="a long enough passphrase",
        )  # fmt: skip
    with app.test_request_context():
        token, _ = auth.issue_api_token(db.session.get(Clinician, made.id))
        db.session.commit()
    return token


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def token(app, tag_url):  # tag_url first: it sets up the instance's keys
    return api_token(app, "para@example.nhs.uk")


def opened(client, token, tag_url) -> int:
    """Unlock through the API (reason: A&E); the unlock's audit id."""
    response = client.post(
        "/api/v1/unlock", headers=bearer(token), json={"tag": tag_url, "reason": "ae"}
    )
    assert response.status_code == 200, response.json
    return response.json["audit_id"]


def export(client, token, tag_url, opened_audit_id):
    body = {"tag": tag_url, "opened_audit_id": opened_audit_id}
    return client.post(EXPORT, headers=bearer(token), json=body)


def test_a_tag_just_opened_exports_as_a_valid_fhir_ips_bundle_and_is_audited(
    client, app, settings, token, tag_url
):
    unlock_id = opened(client, token, tag_url)
    response = export(client, token, tag_url, unlock_id)
    assert response.status_code == 200, response.json
    assert response.headers["Cache-Control"] == "no-store"
    bundle = Bundle.model_validate(response.json["bundle"])
    assert bundle.type == "document"
    patients = [e.resource for e in bundle.entry if e.resource.__resource_type__ == "Patient"]
    assert [p.name[0].text for p in patients] == ["Jane Smith"]
    (exported,) = events(app, EventKind.TAG_EXPORTED)
    assert exported.outcome == "success" and exported.reason == "ae"
    assert exported.tag_id == tag_id_of(tag_url, settings) == response.json["tag_id"]
    assert json.loads(exported.details) == {"format": "fhir-ips", "after_audit_id": unlock_id}
    assert response.json["audit_id"] == exported.id
    assert response.json["opened_audit_id"] == unlock_id


def test_the_export_is_recorded_before_the_summary_is_decrypted_again(
    client, app, token, tag_url, monkeypatch
):
    unlock_id = opened(client, token, tag_url)
    order = []
    real_record, real_open = export_access.record_event, export_access.crypto.open_verified

    def record(kind, **kw):
        order.append(kind)
        return real_record(kind, **kw)

    def decrypt(*a, **k):
        order.append("decrypted")
        return real_open(*a, **k)

    monkeypatch.setattr(export_access, "record_event", record)
    monkeypatch.setattr(export_access.crypto, "open_verified", decrypt)
    assert export(client, token, tag_url, unlock_id).status_code == 200
    assert order == [EventKind.TAG_EXPORTED, "decrypted"]


def test_when_the_export_cannot_be_audited_nothing_is_decrypted(
    client, app, token, tag_url, monkeypatch
):
    unlock_id = opened(client, token, tag_url)
    decrypted = []

    def failing(kind, **kw):
        raise AuditWriteError("down")

    monkeypatch.setattr(export_access, "record_event", failing)
    monkeypatch.setattr(export_access.crypto, "open_verified", lambda *a, **k: decrypted.append(1))
    response = export(client, token, tag_url, unlock_id)
    assert response.status_code == 503 and response.json["error"] == "unavailable"
    assert decrypted == [] and "Penicillin" not in response.text


def test_an_export_without_having_opened_the_tag_is_refused_and_audited(
    client, app, token, tag_url
):
    response = export(client, token, tag_url, 1)
    assert response.status_code == 403 and response.json["error"] == "export_refused"
    assert "Open the summary with a reason first" in response.json["message"]
    assert "Penicillin" not in response.text
    (denied,) = events(app, EventKind.TAG_EXPORTED)
    assert denied.outcome == "denied" and json.loads(denied.details)["why"] == "not_opened"


def test_an_open_more_than_15_minutes_ago_does_not_let_you_export(client, app, token, tag_url):
    unlock_id = opened(client, token, tag_url)
    with app.app_context():
        event = db.session.get(AuditEvent, unlock_id)
        event.created_at -= export_access.EXPORT_WINDOW + timedelta(seconds=5)
        db.session.commit()
    response = export(client, token, tag_url, unlock_id)
    assert response.status_code == 403 and response.json["error"] == "export_refused"


def test_another_clinicians_open_does_not_let_you_export(client, app, token, tag_url):
    unlock_id = opened(client, token, tag_url)
    other = api_token(app, "second@example.nhs.uk")
    response = export(client, other, tag_url, unlock_id)
    assert response.status_code == 403 and "Penicillin" not in response.text
    denied = events(app, EventKind.TAG_EXPORTED)[-1]
    assert denied.outcome == "denied" and json.loads(denied.details)["why"] == "not_opened"


def test_an_open_of_another_tag_does_not_let_you_export_this_one(
    client, app, token, tag_url, tag_factory
):
    unlock_id = opened(client, token, tag_url)
    response = export(client, token, tag_factory(), unlock_id)
    assert response.status_code == 403


def test_a_receptionist_is_refused_and_the_refusal_audited(client, app, tag_url):
    rita = api_token(app, "rita@example.nhs.uk", role="receptionist")
    response = export(client, rita, tag_url, 1)
    assert response.status_code == 403 and response.json["error"] == "export_refused"
    assert "Penicillin" not in response.text
    (denied,) = events(app, EventKind.TAG_EXPORTED)
    assert json.loads(denied.details)["why"] == "role" and denied.role == "receptionist"


def test_a_revoked_card_cannot_be_exported_even_just_after_opening(
    client, app, settings, token, tag_url
):
    unlock_id = opened(client, token, tag_url)
    with app.app_context():
        tags.revoke_tag(tag_id_of(tag_url, settings), "lost")
    response = export(client, token, tag_url, unlock_id)
    assert response.status_code == 410 and "Penicillin" not in response.text


def test_without_a_token_the_export_is_a_401_json_error(client, tag_url):
    response = client.post(EXPORT, json={"tag": tag_url, "opened_audit_id": 1})
    assert response.status_code == 401
    assert set(response.json) == {"error", "message"}


@pytest.mark.parametrize(
    "body",
    [None, [], {}, {"tag": 5, "opened_audit_id": 1}, {"tag": "x"},
     {"opened_audit_id": 1}, {"tag": "x", "opened_audit_id": True},
     {"tag": "x", "opened_audit_id": -3}, {"tag": "x", "opened_audit_id": 1.5},
     {"tag": "x", "opened_audit_id": 10**30}, {"tag": "x", "opened_audit_id": [1]}],
)  # fmt: skip
def test_a_malformed_body_is_a_400_json_error(client, token, body):
    response = client.post(EXPORT, headers=bearer(token), json=body)
    assert response.status_code == 400
    assert response.json["error"] == "bad_request" and "opened_audit_id" in response.json["message"]


@pytest.mark.parametrize("odd", ["²", "１", "abc", "", "9" * 40, "0"])
def test_an_odd_audit_id_is_refused_cleanly_never_a_crash(client, token, tag_url, odd):
    opened(client, token, tag_url)
    response = export(client, token, tag_url, odd)
    assert response.status_code == 403 and response.json["error"] == "export_refused"


def test_a_damaged_tag_is_a_400_json_error(client, token):
    response = export(client, token, "HTTPS://EXAMPLE.ORG/T/AAAA", 1)
    assert response.status_code == 400 and response.json["error"] == "invalid_tag"


def test_the_openapi_document_lists_the_export_with_its_rules_and_errors(client):
    doc = client.get("/api/v1/openapi.json").json
    operation = doc["paths"][EXPORT]["post"]
    assert operation["security"] == [{"bearer": []}]
    assert operation["requestBody"]["content"]["application/json"]["schema"]["required"] == [
        "tag", "opened_audit_id"
    ]  # fmt: skip
    assert {"200", "400", "401", "403", "410", "422", "429", "503"} <= set(operation["responses"])
    assert "15 minutes" in operation["description"] and "tag.exported" in operation["description"]
