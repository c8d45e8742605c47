"""Shared by the portal tests: sign up and in, fill the editor, issue and revoke cards.

The fixtures `portal` and `patient` are defined here once, as `portal_fixture` and
`patient_fixture`: a test module imports those names and pytest finds the fixtures in its
namespace. The function names differ from the fixture names so that a test's `portal`
argument does not shadow an import.
"""

from __future__ import annotations

import hashlib
import io
import re
import uuid
from pathlib import Path

import pytest

from tagservice import crypto, keys
from tagservice.store.db import db
from tagservice.store.models import Patient, Tag
from tagservice.summary import model as summary_model
from tests.helpers import FAST_ARGON2, csrf_from, fixture

PASSWORD = "correct horse battery staple"
SHARED_IPS = Path("/work/shared/fixtures/fhir-ips")


def make_portal(app, settings):
    """The app with keys and cheap argon2: patients can sign up and issue cards."""
    keys.init_instance(settings)
    app.config["ARGON2_PARAMS"] = FAST_ARGON2
    return app


def signed_up(app):
    """A client signed in as a new patient."""
    client = app.test_client()
    signup(client)
    return client


@pytest.fixture(name="portal")
def portal_fixture(app, settings):
    """The app, set up for the patient portal (make_portal)."""
    return make_portal(app, settings)


@pytest.fixture(name="patient")
def patient_fixture(portal):
    """A test client signed in as a newly signed-up patient (signed_up)."""
    return signed_up(portal)


def signup(client, email="pat@example.com", password=PASSWORD, confirm=None, then_sign_in=True):
    """Post the sign-up form; then (as a new patient does) sign in with the same password.

    Returns the sign-up response: it answers alike for a new and a taken email.
    """
    page = client.get("/my/signup")
    data = {"csrf_token": csrf_from(page.text), "email": email, "password": password,
            "confirm": password if confirm is None else confirm}  # fmt: skip
    response = client.post("/my/signup", data=data)
    if then_sign_in and response.status_code == 302:
        signin(client, email, password)
    return response


def signin(client, email="pat@example.com", password=PASSWORD, code=""):
    page = client.get("/my/signin")
    data = {"csrf_token": csrf_from(page.text), "email": email, "password": password,
            "code": code}  # fmt: skip
    return client.post("/my/signin", data=data)


def fields_of(summary: dict) -> dict:
    """The editor's form fields for a native summary."""
    data = {f"identity.{k}": v for k, v in summary["identity"].items()}
    for section in summary_model.LIST_SECTIONS:
        for i, item in enumerate(summary.get(section, [])):
            data |= {f"{section}[{i}].{k}": v for k, v in item.items()}
    data |= {f"gp.{k}": v for k, v in summary.get("gp", {}).items()}
    for name in ("language", "note"):
        if name in summary:
            data[name] = summary[name]
    if summary.get("no_known_allergies"):
        data["no_known_allergies"] = "yes"
    if summary.get("meta", {}).get("review"):
        data["meta.review"] = summary["meta"]["review"]
    return data


def token(client, path="/my/summary") -> str:
    return csrf_from(client.get(path).text)


def save(client, summary_or_fields, action="save"):
    data = summary_or_fields
    if "identity" in data:
        data = fields_of(data)
    return client.post("/my/summary", data={"csrf_token": token(client), "action": action} | data)


def issue(client, **form):
    return client.post("/my/card/issue", data={"csrf_token": token(client, "/my/card")} | form)


def revoke(client, tag_id, reason="lost", confirm="yes"):
    data = {"csrf_token": token(client, "/my/card"), "tag_id": tag_id, "reason": reason,
            "confirm": confirm}  # fmt: skip
    return client.post("/my/card/revoke", data=data)


def upload(client, content: bytes, name="bundle.json"):
    data = {"csrf_token": token(client), "bundle": (io.BytesIO(content), name)}
    return client.post("/my/summary/import", data=data, content_type="multipart/form-data")


def patient_tags(app) -> list[Tag]:
    with app.app_context():
        return list(db.session.scalars(db.select(Tag).order_by(Tag.issued_at)))


def card_url(app) -> str:
    from tagservice.accounts import patients

    with app.app_context():
        return patients.load_card(db.session.scalars(db.select(Patient)).one())["url"]


def issued_card(client, app, summary=None) -> str:
    save(client, summary or fixture("summary-typical.json"))
    assert issue(client).status_code == 302
    return card_url(app)


def scan_path(url: str) -> str:
    return url[url.index("/T/") :]


def oversized() -> dict:
    """A valid summary too long for any tag of this service."""
    summary = fixture("summary-heavy.json")
    summary["note"] = hashlib.sha256(b"note").hexdigest() * 2 + "x" * 32
    summary["medications"] += [
        {"name": hashlib.sha256(str(i).encode()).hexdigest()[:40]} for i in range(10)
    ]
    return summary


def field_html(page: str, field_id: str) -> str:
    return re.search(rf'<(?:input|select)[^>]*id="{re.escape(field_id)}"[^>]*>', page).group(0)


def keys_tag_id(url, app):
    with app.app_context():
        return crypto.verify_tag(url, keys.load_keyset(app.config["TAGSERVICE"])).tag_id_hex


def multipart(fields: dict[str, str], filename: str, content: bytes) -> tuple[bytes, str]:
    """A multipart/form-data body (fields, then the file as `bundle`) and its content type."""
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
             for name, value in fields.items()]  # fmt: skip
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="bundle"; '
                 f'filename="{filename}"\r\nContent-Type: application/json\r\n\r\n')  # fmt: skip
    body = "".join(parts).encode() + content + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def upload_large(client, content: bytes, name="bundle.json"):
    """As `upload`, encoded here: the test client leaves its temporary file open above 500 KB."""
    body, content_type = multipart({"csrf_token": token(client)}, name, content)
    return client.post("/my/summary/import", data=body, content_type=content_type)
