"""The JSON API: bearer session, unlock, status, audit check, OpenAPI document."""

from __future__ import annotations

import base64
import json
from datetime import date, timedelta

import pyotp
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tagservice import keys
from tagservice.accounts import clinicians
from tagservice.store import tags
from tests.helpers import events, path_of, tag_id_of


@pytest.fixture
def account(app, tag_factory):
    """A real clinician account (password + TOTP) created as the CLI does."""
    with app.app_context():
        clinician, password, uri = clinicians.add_clinician(
            "para@example.nhs.uk",
            "Pat Medic",
            "paramedic",
            "HCPC",
            "PA12345",
            "Example Ambulance Service",
        )
    return {"email": "para@example.nhs.uk", "password": password, "totp": pyotp.parse_uri(uri)}


@pytest.fixture
def token(client, account):
    response = client.post(
        "/api/v1/session",
        json={
            "email": account["email"],
            "password": account["password"],
            "totp": account["totp"].now(),
        },
    )
    assert response.status_code == 200, response.json
    return response.json["token"]


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_api_unlock_returns_summary_tag_info_and_audit_id(client, app, token, tag_url, settings):
    response = client.post(
        "/api/v1/unlock", headers=bearer(token), json={"tag": tag_url, "reason": "999"}
    )
    assert response.status_code == 200, response.json
    body = response.json
    assert body["summary"]["identity"]["name"] == "Jane Smith"
    assert body["critical"][0] == "ANAPHYLAXIS: Penicillin"
    assert body["tag"]["id"] == tag_id_of(tag_url, settings)
    assert body["tag"]["status"] == "active"
    [event] = events(app, "tag.unlocked")
    assert body["audit_id"] == event.id
    assert response.headers["Cache-Control"] == "no-store"


def test_api_unlock_without_a_token_is_401_json(client, tag_url):
    response = client.post("/api/v1/unlock", json={"tag": tag_url, "reason": "999"})
    assert response.status_code == 401
    assert set(response.json) == {"error", "message"}


@pytest.mark.parametrize(
    "body,status,error",
    [
        ({"tag": "HTTP://X/T/AAAA", "reason": "999"}, 400, "invalid_tag"),
        ({"tag": None, "reason": "999"}, 400, "bad_request"),
        ({"reason": "999"}, 400, "bad_request"),
        ({"tag": "TAG", "reason": "coffee"}, 400, None),
    ],
)
def test_api_bad_requests_get_400_with_error_and_message(
    client, token, tag_url, body, status, error
):
    if body.get("tag") == "TAG":
        body = dict(body, tag=tag_url)
    response = client.post("/api/v1/unlock", headers=bearer(token), json=body)
    assert response.status_code == status
    assert set(response.json) == {"error", "message"}
    if error:
        assert response.json["error"] == error


def test_api_revoked_tag_is_410(client, app, token, tag_url, settings):
    with app.app_context():
        tags.revoke_tag(tag_id_of(tag_url, settings), "lost")
    response = client.post(
        "/api/v1/unlock", headers=bearer(token), json={"tag": tag_url, "reason": "ae"}
    )
    assert response.status_code == 410
    assert response.json["error"] == "revoked"
    assert "summary" not in response.json


def test_api_expired_registration_is_403(client, app, token, tag_url):
    from tagservice.store.db import db
    from tagservice.store.models import Clinician

    with app.app_context():
        clinician = db.session.scalar(db.select(Clinician))
        clinician.registration_expires = date.today() - timedelta(days=1)
        db.session.commit()
    response = client.post(
        "/api/v1/unlock", headers=bearer(token), json={"tag": tag_url, "reason": "999"}
    )
    assert response.status_code == 403
    assert response.json["error"] == "not_permitted"


def test_api_tag_status_by_id_without_decrypting(client, token, tag_url, settings):
    tag_id = tag_id_of(tag_url, settings)
    response = client.get(f"/api/v1/tags/{tag_id}", headers=bearer(token))
    assert response.json["status"] == "active"
    assert client.get("/api/v1/tags/0000000000000000", headers=bearer(token)).status_code == 404
    assert client.get("/api/v1/tags/nonsense", headers=bearer(token)).status_code == 400


def test_api_audit_verify_is_for_admins_only(client, token):
    assert client.get("/api/v1/audit/verify", headers=bearer(token)).status_code == 403


def test_openapi_document_lists_every_api_route_with_error_codes(client, app):
    doc = client.get("/api/v1/openapi.json").json
    assert doc["openapi"].startswith("3.")
    routes = {
        r.rule.replace("<", "{").replace(">", "}")
        for r in app.url_map.iter_rules()
        if r.rule.startswith("/api/v1/") and "openapi" not in r.rule
    }
    assert routes <= set(doc["paths"])
    unlock = doc["paths"]["/api/v1/unlock"]["post"]["responses"]
    assert {"200", "400", "401", "403", "410", "429"} <= set(unlock)


def test_jwks_serves_the_public_trust_list(client, tag_url):
    jwks = client.get("/.well-known/jwks.json").json
    assert {k["use"] for k in jwks["keys"]} == {"sig", "enc"}
    assert all("d" not in k for k in jwks["keys"])


def test_jwks_is_not_published_from_a_ring_whose_public_key_is_not_its_own(
    client, tag_url, settings
):
    # Given keys.json edited to publish another issuer public key under our key id
    ring = json.loads(settings.keyring_file.read_text())
    stranger = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    [issuer] = [r for r in ring["keys"] if r["role"] == "issuer"]
    issuer["public"] = base64.urlsafe_b64encode(stranger).decode().rstrip("=")
    keys.write_private(settings.keyring_file, json.dumps(ring))
    # Then the trust list is withheld (503, the JSON error shape) rather than published
    response = client.get("/.well-known/jwks.json")
    assert response.status_code == 503
    assert response.json["error"] and issuer["public"] not in response.text


def test_scan_path_is_also_reachable_with_whole_url_in_api(client, token, tag_url):
    response = client.post(
        "/api/v1/unlock", headers=bearer(token), json={"tag": path_of(tag_url)[3:], "reason": "ae"}
    )
    assert response.status_code == 200


@pytest.mark.parametrize("path", ["/api/v1/unlock", "/api/v1/session"])
def test_an_oversized_api_body_is_refused_with_413_json(client, token, tag_url, path):
    padding = "x" * (64 * 1024)
    response = client.post(
        path,
        json={"tag": tag_url, "reason": "999", "reason_text": padding},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 413
    assert response.json["error"] and response.json["message"]


def test_api_unlock_says_whether_a_clinician_verified_the_summary(client, token, tag_factory):
    verified = tag_factory("summary-heavy.json")
    for tag, expected in ((tag_factory(), False), (verified, True)):
        body = client.post("/api/v1/unlock", headers=bearer(token),
                           json={"tag": tag, "reason": "999"}).json
        assert body["verified"] is expected
        assert body["source"] == ("clinician-verified" if expected else "self-reported")


def test_the_openapi_document_says_an_unverified_summary_must_be_shown_as_such(client):
    unlock = client.get("/api/v1/openapi.json").json["paths"]["/api/v1/unlock"]["post"]
    schema = unlock["responses"]["200"]["content"]["application/json"]["schema"]
    assert {"verified", "source"} <= set(schema["required"])
    assert "not checked by a clinician" in schema["properties"]["verified"]["description"]
