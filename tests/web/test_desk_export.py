"""A&E desk exports: print on one A4 page and a FHIR IPS Bundle, each audited as an export,
only by the clinician who has just opened that tag, and never before the event is committed."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from fhir.resources.R4B.bundle import Bundle

from tagservice import audit
from tagservice.audit import AuditWriteError, EventKind
from tagservice.store.db import db
from tagservice.store.models import AuditEvent
from tagservice.web import export_access
from tests.helpers import csrf_from, events, path_of, sign_in, tag_id_of, unlock_form

NURSE = {"role": "nurse", "register": "NMC", "registration_number": "12A3456E"}


def open_at_desk(client, url):
    """Scan at the desk and open with A&E: the summary page, with its export form."""
    desk = client.get("/desk")
    reason = client.post("/desk", data={"csrf_token": csrf_from(desk.text), "tag": url})
    form = {"csrf_token": csrf_from(reason.text), "tag": path_of(url)[3:], "reason": "ae",
            "at": "desk"}  # fmt: skip
    summary = client.post("/unlock", data=form)
    assert summary.status_code == 200, summary.text
    return summary


def export_form(summary_html):
    form = re.search(r'<form method="post" action="/desk/export".*?</form>', summary_html, re.S)
    assert form, "the desk summary offers no export"
    fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', form.group(0)))
    return {k: fields[k] for k in ("csrf_token", "tag", "opened")}


@pytest.fixture
def nurse(client, app):
    return sign_in(client, app, **NURSE)


def test_the_desk_summary_prints_on_a_page_of_its_own_and_the_print_is_audited(
    client, app, settings, nurse, tag_url
):
    summary = open_at_desk(client, tag_url)
    sign_in_id = events(app, EventKind.TAG_UNLOCKED)[-1].id
    page = client.post("/desk/export", data=export_form(summary.text) | {"as": "print"})
    assert page.status_code == 200
    assert "ANAPHYLAXIS: Penicillin" in page.text and "desk-print.css" in page.text
    assert page.headers["Cache-Control"] == "no-store"
    (exported,) = events(app, EventKind.TAG_EXPORTED)
    assert exported.outcome == "success" and exported.tag_id == tag_id_of(tag_url, settings)
    assert exported.reason == "ae" and exported.role == "nurse"
    details = json.loads(exported.details)
    assert details == {"format": "print", "after_audit_id": sign_in_id}
    assert f"export record #{exported.id}" in page.text


def test_the_desk_summary_exports_a_valid_fhir_ips_bundle_as_a_download(
    client, app, settings, nurse, tag_url
):
    summary = open_at_desk(client, tag_url)
    response = client.post("/desk/export", data=export_form(summary.text) | {"as": "fhir"})
    assert response.status_code == 200
    assert response.mimetype == "application/fhir+json"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    bundle = Bundle.model_validate(response.get_json())
    assert bundle.type == "document"
    names = [
        e.resource.name[0].text for e in bundle.entry if e.resource.__resource_type__ == "Patient"
    ]
    assert names == ["Jane Smith"]
    (exported,) = events(app, EventKind.TAG_EXPORTED)
    assert json.loads(exported.details)["format"] == "fhir-ips"


def test_an_export_without_having_opened_the_tag_is_refused_and_audited(
    client, app, nurse, tag_url
):
    desk = client.get("/desk")
    form = {"csrf_token": csrf_from(desk.text), "tag": path_of(tag_url)[3:], "opened": "1",
            "as": "fhir"}  # fmt: skip
    response = client.post("/desk/export", data=form)
    assert response.status_code == 403
    assert "Open the summary with a reason first" in response.text
    assert "Penicillin" not in response.text
    (denied,) = events(app, EventKind.TAG_EXPORTED)
    assert denied.outcome == "denied" and json.loads(denied.details)["why"] == "not_opened"


def test_another_clinicians_unlock_does_not_let_you_export(client, app, tag_url):
    sign_in(client, app, **NURSE)
    form = export_form(open_at_desk(client, tag_url).text)
    other = app.test_client()
    sign_in(other, app, **NURSE)
    form["csrf_token"] = csrf_from(other.get("/desk").text)
    response = other.post("/desk/export", data=form | {"as": "print"})
    assert response.status_code == 403 and "Penicillin" not in response.text


def test_an_unlock_of_another_tag_does_not_let_you_export_this_one(client, app, tag_factory):
    sign_in(client, app, **NURSE)
    first, second = tag_factory(), tag_factory()
    form = export_form(open_at_desk(client, first).text)
    response = client.post("/desk/export", data=form | {"tag": path_of(second)[3:], "as": "fhir"})
    assert response.status_code == 403


def test_an_export_long_after_the_unlock_is_refused(client, app, tag_url):
    sign_in(client, app, **NURSE)
    form = export_form(open_at_desk(client, tag_url).text)
    with app.app_context():
        opened = db.session.get(AuditEvent, int(form["opened"]))
        late = opened.created_at + export_access.EXPORT_WINDOW + timedelta(seconds=5)
    with app.test_request_context():
        from tagservice.store.models import Clinician

        clinician = db.session.get(Clinician, int(opened.actor_id))
        with pytest.raises(export_access.unlock.UnlockRefused) as refused:
            export_access.export(form["tag"], form["opened"], clinician, "print", now=late)
    assert refused.value.status == 403


@pytest.mark.parametrize("opened", ["", "abc", "-1", "9" * 40, "99999", "²", "１"])
def test_a_bad_or_unknown_unlock_record_is_refused_cleanly(client, app, tag_url, opened):
    sign_in(client, app, **NURSE)
    form = export_form(open_at_desk(client, tag_url).text)
    response = client.post("/desk/export", data=form | {"opened": opened, "as": "print"})
    assert response.status_code == 403


def test_an_unknown_export_format_is_a_clear_400(client, app, tag_url):
    sign_in(client, app, **NURSE)
    form = export_form(open_at_desk(client, tag_url).text)
    response = client.post("/desk/export", data=form | {"as": "pdf"})
    assert response.status_code == 400 and "Choose Print or Export" in response.text


def test_when_the_export_cannot_be_audited_nothing_is_decrypted(client, app, tag_url, monkeypatch):
    sign_in(client, app, **NURSE)
    form = export_form(open_at_desk(client, tag_url).text)
    real = audit.record_event
    opened = []

    def failing(kind, **kw):
        if kind == EventKind.TAG_EXPORTED:
            raise AuditWriteError("down")
        return real(kind, **kw)

    monkeypatch.setattr(export_access, "record_event", failing)
    monkeypatch.setattr(export_access.crypto, "open_verified", lambda *a, **k: opened.append(1))
    response = client.post("/desk/export", data=form | {"as": "fhir"})
    assert response.status_code == 503
    assert opened == [] and "Penicillin" not in response.text


def test_a_revoked_card_cannot_be_exported_even_just_after_opening(client, app, settings, tag_url):
    from tagservice.store import tags

    sign_in(client, app, **NURSE)
    form = export_form(open_at_desk(client, tag_url).text)
    with app.app_context():
        tags.revoke_tag(tag_id_of(tag_url, settings), "lost")
    response = client.post("/desk/export", data=form | {"as": "print"})
    assert response.status_code == 410 and "Penicillin" not in response.text


def test_the_patient_sees_the_export_in_their_access_log(app):
    from tagservice.audit.access_log import _describe

    event = AuditEvent(
        kind=EventKind.TAG_EXPORTED,
        actor_type="clinician",
        actor_id="7",
        role="nurse",
        organisation="Trust",
        created_at=datetime.now(UTC),
    )
    what, who = _describe(event, {"7": "Sam Nurse"})
    assert what.startswith("Printed or saved to the hospital record") and "Sam Nurse" in who


def test_the_export_form_is_only_at_the_desk(client, app, tag_url):
    sign_in(client, app)
    assert "/desk/export" not in unlock_form(client, tag_url).text
